//! Policy sources end to end, on any OS: the registry values Group Policy
//! leaves (a `.reg` export fixture), the managed-preferences plists a
//! configuration profile leaves (XML and binary fixtures), the JSON file —
//! each merged machine-over-user into one policy — and the templates IT
//! ships (`deploy/`), which must parse through the same code with every key
//! and no problem.

mod policy {
    use std::path::{Path, PathBuf};

    use educloud_core::policy::{
        macos, windows, EnvironmentKind, Language, LoadedPolicy, Policy, UpdateChannel, KEYS,
    };
    use secrecy::ExposeSecret;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/policy")
            .join(name)
    }

    fn repo(path: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(path)
    }

    #[test]
    fn registry_machine_values_beat_user_values() {
        let bytes = std::fs::read(fixture("windows-policy.reg")).unwrap();
        let sections = windows::parse_reg_export(&bytes).unwrap();
        assert_eq!(sections.len(), 3);
        let mut l = LoadedPolicy::default();
        windows::add_reg_export(&mut l, "fixture", &sections);
        let hklm = r"fixture [HKEY_LOCAL_MACHINE\SOFTWARE\Policies\EduCloud\Desktop]";
        let hkcu = r"fixture [HKEY_CURRENT_USER\SOFTWARE\Policies\EduCloud\Desktop]";
        assert_eq!(l.sources, [hklm, hkcu], "the other app's key is not read");
        let p = l.policy();
        // Machine wins where both set a key.
        assert_eq!(p.shared_device, Some(true));
        assert_eq!(p.default_county.as_deref(), Some("ntpc"));
        assert_eq!(l.source_of("SharedDevice"), Some(hklm));
        // The user fills what the machine leaves open.
        assert_eq!(p.language, Some(Language::En));
        assert_eq!(p.update_channel, Some(UpdateChannel::Beta));
        assert_eq!(p.disable_registration, Some(true));
        assert_eq!(l.source_of("Language"), Some(hkcu));
        assert_eq!(
            p.browser_command.as_deref(),
            Some(r#""C:\Program Files\Mozilla Firefox\firefox.exe" --private-window"#)
        );
        // Value types: REG_SZ enum, REG_MULTI_SZ list and JSON, REG_EXPAND_SZ.
        assert_eq!(p.environment, Some(EnvironmentKind::Production));
        assert_eq!(
            p.allowed_counties.as_deref().unwrap(),
            ["ntpc", "tp", "lab"]
        );
        let overrides = p.county_overrides.as_ref().unwrap();
        assert_eq!(overrides["lab"].name_zh.as_deref(), Some("實驗縣"));
        assert_eq!(
            overrides["ntpc"]
                .client_secret
                .as_ref()
                .unwrap()
                .expose_secret(),
            "fixture-secret-ntpc"
        );
        let expected_ca = match std::env::var("ProgramData") {
            Ok(pd) => format!(r"{pd}\EduCloud\school-proxy-ca.pem"),
            Err(_) => r"%ProgramData%\EduCloud\school-proxy-ca.pem".to_string(),
        };
        assert_eq!(
            p.extra_ca_certificates.as_deref().unwrap(),
            [PathBuf::from(expected_ca)]
        );
        assert_eq!(p.disable_updates, Some(true));
        // Shared-device mode overrides the machine's AllowStaySignedIn=1.
        assert!(!p.stay_signed_in_allowed() && !p.drafts_allowed());
        // The user's broken values are reported, not applied.
        assert_eq!(
            l.problems,
            [
                format!("{hkcu}: AllowStaySignedIn: ignored, REG_BINARY is not supported"),
                format!("{hkcu}: unknown key Colour"),
            ]
        );
        assert!(p.check().is_empty(), "{:?}", p.check());
    }

    #[test]
    fn managed_preferences_computer_beats_user() {
        let root = tempfile::tempdir().unwrap();
        let file = format!("{}.plist", macos::BUNDLE_ID);
        std::fs::copy(fixture("machine.plist"), root.path().join(&file)).unwrap();
        std::fs::create_dir(root.path().join("teacher")).unwrap();
        std::fs::copy(
            fixture("user.plist"),
            root.path().join("teacher").join(&file),
        )
        .unwrap();
        let mut l = LoadedPolicy::default();
        macos::add_managed_preferences(&mut l, root.path(), Some("teacher"));
        assert_eq!(l.sources.len(), 2);
        let p = l.policy();
        assert_eq!(p.environment, Some(EnvironmentKind::Custom));
        assert_eq!(
            p.service_url.as_deref(),
            Some("https://educloud.school.example.tw/")
        );
        assert_eq!(
            p.shared_device,
            Some(true),
            "the computer's true beats the user's false"
        );
        assert!(l.source_of("SharedDevice").unwrap().ends_with(&file));
        assert!(!l.source_of("SharedDevice").unwrap().contains("teacher"));
        assert_eq!(p.default_county.as_deref(), Some("kh"));
        assert!(l.source_of("DefaultCounty").unwrap().contains("teacher"));
        assert_eq!(p.allow_stay_signed_in, Some(false));
        assert_eq!(p.allowed_counties.as_deref().unwrap(), ["kh", "tp", "lab"]);
        let lab = &p.county_overrides.as_ref().unwrap()["lab"];
        assert_eq!(
            lab.client_secret.as_ref().unwrap().expose_secret(),
            "fixture-secret-lab"
        );
        assert_eq!(lab.scopes.as_deref().unwrap(), ["openid"]);
        assert_eq!(p.disable_updates, Some(true), "integer 1 is a switch");
        assert_eq!(p.language, Some(Language::En));
        assert_eq!(p.disable_registration, None);
        assert_eq!(l.problems.len(), 1, "{:?}", l.problems);
        assert!(l.problems[0].contains("DisableRegistration: ignored, expected 0 or 1"));
        assert!(!format!("{p:?}").contains("fixture-secret"));
        // Another user's file is not read; no user file is fine.
        let mut other = LoadedPolicy::default();
        macos::add_managed_preferences(&mut other, root.path(), Some("student"));
        assert_eq!(other.sources.len(), 1);
        assert_eq!(other.policy().default_county, None);
    }

    #[test]
    fn policy_json_file_and_environment_override() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("policy.json");
        std::fs::write(&f, r#"{"SharedDevice": true, "Language": "en"}"#).unwrap();
        // Machine sources (here: registry values) beat the file.
        let mut l = LoadedPolicy::default();
        let (machine, problems) = windows::policy_from_registry(&[(
            "Language".into(),
            windows::RegValue::Sz("zh-TW".into()),
        )]);
        assert!(problems.is_empty());
        l.add("HKLM".into(), machine);
        l.add_file(&f);
        assert_eq!(l.policy().language, Some(Language::ZhTw));
        assert_eq!(l.policy().shared_device, Some(true));
        assert_eq!(
            l.source_of("SharedDevice"),
            Some(f.display().to_string().as_str())
        );
    }

    /// The JSON example IT copies to `/etc/educloud/policy.json`.
    #[test]
    fn linux_policy_example_sets_every_key_cleanly() {
        let text = std::fs::read_to_string(repo("deploy/linux/policy.example.json")).unwrap();
        let (p, unknown) = Policy::from_json(&text).unwrap();
        assert!(unknown.is_empty(), "{unknown:?}");
        assert_eq!(p.set_keys(), KEYS);
        assert!(p.check().is_empty(), "{:?}", p.check());
    }

    /// The configuration profile IT uploads to Jamf / Intune.
    #[test]
    fn mobileconfig_carries_every_key_for_the_bundle_id() {
        let profile = plist::Value::from_file(repo("deploy/macos/EduCloud.mobileconfig")).unwrap();
        let top = profile.as_dictionary().unwrap();
        assert_eq!(top["PayloadType"].as_string(), Some("Configuration"));
        let payloads = top["PayloadContent"].as_array().unwrap();
        let mcx = payloads
            .iter()
            .filter_map(plist::Value::as_dictionary)
            .find(|d| {
                d.get("PayloadType").and_then(plist::Value::as_string)
                    == Some("com.apple.ManagedClient.preferences")
            })
            .expect("a custom preferences payload");
        let domain = mcx["PayloadContent"].as_dictionary().unwrap()[macos::BUNDLE_ID]
            .as_dictionary()
            .unwrap();
        let forced = domain["Forced"].as_array().unwrap()[0]
            .as_dictionary()
            .unwrap();
        let settings = forced["mcx_preference_settings"].as_dictionary().unwrap();
        let (p, problems) = macos::policy_from_plist(settings);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(p.set_keys(), KEYS);
        assert!(p.check().is_empty(), "{:?}", p.check());
        // Every payload has the keys macOS requires.
        for d in std::iter::once(top).chain(payloads.iter().filter_map(plist::Value::as_dictionary))
        {
            for k in [
                "PayloadIdentifier",
                "PayloadUUID",
                "PayloadType",
                "PayloadVersion",
            ] {
                assert!(d.contains_key(k), "{k} missing");
            }
        }
    }

    /// The `.reg` file for PCs without Group Policy (`reg import`).
    #[test]
    fn windows_reg_example_sets_every_key_cleanly() {
        let bytes = std::fs::read(repo("deploy/windows/EduCloud.example.reg")).unwrap();
        let sections = windows::parse_reg_export(&bytes).unwrap();
        let mut l = LoadedPolicy::default();
        windows::add_reg_export(&mut l, "example", &sections);
        assert!(l.problems.is_empty(), "{:?}", l.problems);
        assert_eq!(l.policy().set_keys(), KEYS);
        assert!(l.policy().check().is_empty(), "{:?}", l.policy().check());
    }

    /// Every key has a policy in the ADMX, under the policy key, and both
    /// languages define every string the ADMX references.
    #[test]
    fn admx_names_every_key_and_adml_strings_exist() {
        let admx = std::fs::read_to_string(repo("deploy/windows/EduCloud.admx")).unwrap();
        for key in KEYS {
            assert!(
                admx.contains(&format!("valueName=\"{key}\"")),
                "{key} has no policy in the ADMX"
            );
        }
        assert!(admx.contains(&format!("key=\"{}\"", windows::WINDOWS_POLICY_KEY)));
        let refs: Vec<&str> = admx
            .split("$(string.")
            .skip(1)
            .filter_map(|s| s.split(')').next())
            .collect();
        assert!(refs.len() > KEYS.len());
        for lang in ["zh-TW", "en-US"] {
            let adml =
                std::fs::read_to_string(repo(&format!("deploy/windows/{lang}/EduCloud.adml")))
                    .unwrap();
            for r in &refs {
                assert!(
                    adml.contains(&format!("<string id=\"{r}\">")),
                    "{lang}: {r}"
                );
            }
        }
    }
}
