//! The CLI's sign-in commands: `login`, `logout`, `status`, `counties`.
//! The same core calls as the window; output is plain text for people and
//! scripts (stable error codes on failure, exit code non-zero).

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use educloud_core::contract::wire::code as wire;
use educloud_core::desktop::Desktop;
use educloud_core::directory::CountyDirectory;
use educloud_core::oidc::CountyIdentity;
use educloud_core::oidc::{self, SignInOptions, SignInProgress, WaitingForBrowser};
use educloud_core::secret::{secret, SecretString};
use educloud_core::session::{SessionState, SessionStatus, SignInOutcome, SignOutResult};
use educloud_core::vault::SessionVault;
use educloud_core::{CoreError, Result};

use crate::cli::{Command, CountiesAction};

/// Tells the user where to finish the sign-in (stderr, so stdout stays
/// machine-readable).
struct Progress;

impl SignInProgress for Progress {
    fn waiting_for_browser(&self, w: &WaitingForBrowser) {
        eprintln!(
            "請在瀏覽器中完成{}登入 / Finish signing in with {} in your browser.",
            w.county_name_zh, w.county_name_en
        );
        if !w.browser_opened {
            eprintln!("瀏覽器未開啟，請開啟此連結 / No browser opened; open this link:");
        }
        eprintln!("{}", w.authorize_url);
    }
}

fn read_password() -> Result<SecretString> {
    if std::io::stdin().is_terminal() {
        let pw = rpassword::prompt_password("密碼 / Password: ")?;
        Ok(secret(pw))
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        Ok(secret(line.trim_end_matches(['\r', '\n'])))
    }
}

pub async fn run(desktop: Desktop, command: Command) -> Result<()> {
    let _sandbox = crate::service::connect(&desktop).await?;
    let desktop = Arc::new(desktop);
    let session = Arc::new(SessionState::new(SessionVault::os()));
    match command {
        Command::Login {
            county: Some(county),
            stay_signed_in,
            timeout,
            ..
        } => {
            session.set_sign_in_timeout(Duration::from_secs(timeout));
            let waiting = session
                .start_county_sign_in(&desktop, &county, stay_signed_in)
                .await?;
            Progress.waiting_for_browser(&waiting);
            match session.finish_county_sign_in().await? {
                SignInOutcome::SignedIn(account) => {
                    println!("登入成功 / Signed in: {}", account.email);
                    end_unless_kept(&desktop, &session).await;
                    Ok(())
                }
                SignInOutcome::NotRegistered(identity) => {
                    not_registered(&desktop, &identity);
                    Err(CoreError::Service {
                        status: 404,
                        code: wire::ACCOUNT_NOT_REGISTERED.into(),
                        field: None,
                        detail: None,
                    })
                }
            }
        }
        Command::Login {
            email: Some(email),
            stay_signed_in,
            ..
        } => {
            let password = read_password()?;
            let account = session
                .sign_in_password(&desktop, &email, password, stay_signed_in)
                .await?;
            println!("登入成功 / Signed in: {}", account.email);
            end_unless_kept(&desktop, &session).await;
            Ok(())
        }
        Command::Login { .. } => Err(CoreError::invalid("county", "required")),
        Command::Logout { all } => {
            // Sessions an earlier offline sign-out left to end, first.
            session.retry_revocations(&desktop).await;
            let out = session.sign_out(&desktop, all).await?;
            print_sign_out(&out);
            Ok(())
        }
        Command::Status => {
            let restored = session.restore_at_launch(&desktop).await;
            let status = session.status(&desktop).await?;
            print_status(&status, restored.err().as_ref());
            Ok(())
        }
        Command::Counties {
            check,
            action: None,
        } => {
            let directory = CountyDirectory::load(&desktop).await?;
            let mut failed = 0;
            for idp in directory.counties() {
                let l = idp.listing();
                if check {
                    let h = oidc::check_county(&desktop, idp).await;
                    if !h.ok {
                        failed += 1;
                    }
                    println!(
                        "{:<6} {:<6} {} {:>5} ms  {}{}",
                        l.code,
                        l.name_zh,
                        if h.ok { "ok  " } else { "FAIL" },
                        h.elapsed_ms,
                        h.issuer,
                        h.error.map(|c| format!("  error[{c}]")).unwrap_or_default()
                    );
                } else {
                    println!(
                        "{:<6} {:<6} {:<20} {:?}  {}",
                        l.code, l.name_zh, l.name_en, l.profile, l.issuer
                    );
                }
            }
            std::io::stdout().flush()?;
            if failed > 0 {
                return Err(CoreError::Unreachable {
                    what: format!("{failed} county Open ID service(s)"),
                    detail: "see the lines marked FAIL".into(),
                });
            }
            Ok(())
        }
        Command::Counties {
            action: Some(CountiesAction::Test { code, timeout }),
            ..
        } => {
            let options = SignInOptions {
                timeout: Duration::from_secs(timeout),
                prompt_login: true,
                lang: None,
            };
            let verified = oidc::test_county_sign_in(&desktop, &code, options, &Progress).await?;
            let i = &verified.identity;
            println!("county: {}", i.county);
            println!("sub: {}", i.sub);
            let show = |k: &str, v: &Option<String>| {
                if let Some(v) = v {
                    println!("{k}: {v}");
                }
            };
            show("name", &i.name);
            show("email", &i.email);
            show("preferred_username", &i.preferred_username);
            show("school_id", &i.school_id);
            show("school_name", &i.school_name);
            show("role", &i.role);
            show("title", &i.title);
            println!(
                "redirect to verified: {} ms",
                verified.redirect_to_verified.as_millis()
            );
            Ok(())
        }
        Command::Doctor { .. } | Command::Sandbox { .. } | Command::Service { .. } => Ok(()),
    }
}

/// A county sign-in that found no Education Cloud account: what it means
/// and how to register (issue 13 item 1, CLI part).
fn not_registered(desktop: &Desktop, identity: &CountyIdentity) {
    let who = identity
        .name
        .as_deref()
        .or(identity.preferred_username.as_deref())
        .unwrap_or(&identity.sub);
    let (zh, en) = educloud_core::contract::county::find(&identity.county)
        .map(|c| (c.name_zh, c.name_en))
        .unwrap_or((identity.county.as_str(), identity.county.as_str()));
    eprintln!("你的 Open ID（{zh}，{who}）尚未註冊教育雲帳號。");
    eprintln!("Your Open ID ({en}, {who}) has no Education Cloud account yet.");
    eprintln!("註冊方式 / To register:");
    eprintln!("  1. 開啟 EduCloud Desktop（執行 educloud，不加參數）。 / Open EduCloud Desktop (run `educloud` with no arguments).");
    eprintln!("  2. 按「登入」，選{zh}，以同一個 Open ID 登入；畫面會帶您完成教育雲會員註冊（同意書 → 填寫資料 → 確定）。");
    eprintln!("     Choose 登入 (Sign in), pick {en} and sign in with the same Open ID; the window then walks you through the registration (terms → your details → confirm).");
    if let Some(service) = desktop
        .service()
        .filter(|s| s.kind != educloud_core::policy::EnvironmentKind::Sandbox)
    {
        eprintln!("  教育雲 / Education Cloud: {}", service.base_url);
    }
}

/// A CLI sign-in without 保持登入狀態 has nobody to hold its session once
/// the process ends: it is ended at the service now rather than left valid.
async fn end_unless_kept(desktop: &Desktop, session: &SessionState) {
    if let Some(out) = session.end_unkept(desktop).await {
        match out.notice {
            None => println!(
                "未保持登入狀態：此工作階段已結束 / Not kept signed in: this session has been ended."
            ),
            Some(_) => eprintln!(
                "未保持登入狀態；無法連線到教育雲結束此工作階段，下次執行時會再試一次。 / Not kept signed in; the session could not be ended now and is tried again next time."
            ),
        }
    }
}

fn print_sign_out(out: &SignOutResult) {
    if out.accounts.is_empty() {
        println!("沒有已登入的帳號 / No account was signed in.");
    }
    for a in &out.accounts {
        println!("已登出 / Signed out: {a}");
    }
    println!(
        "keychain entries deleted: {}; revoked at the server: {}",
        out.keychain_entries_deleted, out.revoked
    );
    if let Some(notice) = out.notice {
        eprintln!(
            "已在這台電腦登出，但無法連線到教育雲結束登入狀態（{}）；下次執行時會自動再試一次。 / Signed out on this PC, but Education Cloud could not be reached to end the session ({}); it is tried again automatically next time. [{notice}]",
            out.not_revoked.join(", "),
            out.not_revoked.join(", ")
        );
    }
}

fn print_status(status: &SessionStatus, restore_error: Option<&CoreError>) {
    match (&status.signed_in, restore_error) {
        (Some(active), _) => println!(
            "signed in: {} ({}{})",
            active.account.email,
            active.method.as_str(),
            active
                .county
                .as_deref()
                .map(|c| format!(", {c}"))
                .unwrap_or_default()
        ),
        (None, Some(e)) => println!("signed in: no (restore failed: {})", e.code()),
        (None, None) => println!("signed in: no"),
    }
    let stay = &status.stay_signed_in;
    match (&stay.available, &stay.reason) {
        (true, _) => println!("stay signed in: available"),
        (false, reason) => println!(
            "stay signed in: unavailable [{}]",
            reason.as_deref().unwrap_or_default()
        ),
    }
    for a in &status.known_accounts {
        println!(
            "known: {} ({}, kept in keychain: {})",
            a.account, a.method, a.stay_signed_in
        );
    }
    for h in status.history.iter().take(10) {
        println!(
            "history: {} {} {} {}",
            h.at,
            h.method,
            h.county.as_deref().unwrap_or("-"),
            h.outcome
        );
    }
}
