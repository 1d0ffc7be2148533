//! The fuzz targets on stable Rust (no libFuzzer): every committed corpus
//! file and every past crash (`fuzz/regressions/<target>/`) replayed, then
//! proptest feeding random inputs and random mutations of the corpus to the
//! same functions. `scripts/test` runs this when no nightly toolchain is
//! installed (and always for the replay); `PROPTEST_CASES` sets the count.

use std::path::{Path, PathBuf};

use proptest::prelude::*;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn files(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for sub in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(dir().join(sub).join(target)) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_file() {
                let bytes = std::fs::read(&p).expect("read corpus file");
                out.push((p, bytes));
            }
        }
    }
    out.sort();
    out
}

fn target(name: &str) -> fn(&[u8]) {
    educloud_fuzz::TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, f)| *f)
        .unwrap_or_else(|| panic!("no target {name}"))
}

#[test]
fn every_target_has_a_seed_corpus() {
    for (name, _) in educloud_fuzz::TARGETS {
        assert!(
            !files(name).is_empty(),
            "fuzz/corpus/{name}/ is empty: commit a few seeds"
        );
    }
}

#[test]
fn corpora_and_past_crashes_replay_clean() {
    for (name, f) in educloud_fuzz::TARGETS {
        for (path, bytes) in files(name) {
            let r = std::panic::catch_unwind(|| f(&bytes));
            assert!(r.is_ok(), "{name}: {} panics", path.display());
        }
    }
}

/// Random bytes, or a corpus seed with a few bytes changed, cut or grown.
fn input(name: &'static str) -> impl Strategy<Value = Vec<u8>> {
    let seeds: Vec<Vec<u8>> = files(name).into_iter().map(|(_, b)| b).collect();
    let random = proptest::collection::vec(any::<u8>(), 0..512);
    let mutated = (
        proptest::sample::select(seeds),
        proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        any::<prop::sample::Index>(),
        any::<bool>(),
    )
        .prop_map(|(mut seed, edits, cut, do_cut)| {
            for (at, byte) in edits {
                if !seed.is_empty() {
                    let i = at.index(seed.len());
                    seed[i] = byte;
                }
            }
            if do_cut && !seed.is_empty() {
                seed.truncate(cut.index(seed.len()));
            }
            seed
        });
    prop_oneof![random, mutated]
}

macro_rules! prop_target {
    ($($name:ident),* $(,)?) => {
        proptest! {
            #![proptest_config(ProptestConfig {
                failure_persistence: None,
                ..ProptestConfig::default()
            })]
            $(
                #[test]
                fn $name(data in input(stringify!($name))) {
                    target(stringify!($name))(&data);
                }
            )*
        }
    };
}

prop_target!(
    avatar,
    policy_json,
    policy_reg,
    policy_plist,
    url_checks,
    claims,
    discovery,
    url_differential,
    loopback,
);
