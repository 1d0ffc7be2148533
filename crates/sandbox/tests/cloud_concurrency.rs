//! Account names are unique even under concurrent registrations: the
//! database's UNIQUE constraints decide, not a check-then-insert.

mod cloud_support;

use std::collections::HashSet;

use cloud_support::*;
use educloud_contract::wire::{Problem, RegistrationResponse};
use futures_free::join_all;

/// `join_all` without a futures dependency: spawn each on the runtime.
mod futures_free {
    pub async fn join_all<F>(futures: Vec<F>) -> Vec<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
        let mut out = Vec::with_capacity(handles.len());
        for h in handles {
            out.push(h.await.expect("task"));
        }
        out
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_parallel_registrations_of_distinct_names_all_succeed() {
    let env = Env::start().await;
    let requests: Vec<_> = (0..100)
        .map(|i| {
            let req = env
                .http
                .post(env.api("registrations"))
                .json(&other_body(&format!("parent{i:03}@example.com")));
            async move {
                let res = req.send().await.unwrap();
                let status = res.status().as_u16();
                (status, res.text().await.unwrap())
            }
        })
        .collect();
    let results = join_all(requests).await;
    let mut emails = HashSet::new();
    for (status, body) in &results {
        assert_eq!(*status, 201, "{body}");
        let reg: RegistrationResponse = serde_json::from_str(body).unwrap();
        emails.insert(reg.account.email);
    }
    assert_eq!(emails.len(), 100);
    // Each got its own activation mail.
    assert_eq!(env.outbox().await.len(), 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_parallel_registrations_of_one_address_let_exactly_one_win() {
    let env = Env::start().await;
    let requests: Vec<_> = (0..20)
        .map(|i| {
            let mut body = other_body("same.parent@example.com");
            body["nickname"] = serde_json::json!(format!("第{i}位"));
            let req = env.http.post(env.api("registrations")).json(&body);
            async move {
                let res = req.send().await.unwrap();
                (res.status().as_u16(), res.text().await.unwrap())
            }
        })
        .collect();
    let results = join_all(requests).await;
    let wins = results.iter().filter(|(s, _)| *s == 201).count();
    assert_eq!(wins, 1, "{results:?}");
    for (status, body) in results.iter().filter(|(s, _)| *s != 201) {
        assert_eq!(*status, 409, "{body}");
        let p: Problem = serde_json::from_str(body).unwrap();
        assert_eq!(p.code, "account.taken");
        assert_eq!(p.field.as_deref(), Some("email"));
    }
    assert_eq!(env.outbox().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_county_users_racing_for_one_staff_name_let_exactly_one_win() {
    let env = Env::start().await;
    // Twenty different Open IDs (the `{code}test` teacher of twenty
    // counties with ID tokens), all wanting `race.winner@mail.edu.tw`.
    let counties: Vec<&str> = educloud_contract::county::COUNTIES
        .iter()
        .filter(|c| c.profile.has_id_token())
        .map(|c| c.code)
        .take(20)
        .collect();
    assert_eq!(counties.len(), 20);
    let requests: Vec<_> = counties
        .iter()
        .map(|county| {
            let token = env.id_token(county, &format!("{county}test"));
            let req = env.http.post(env.api("registrations")).json(&staff_body(
                county,
                &token,
                "race.winner",
            ));
            async move {
                let res = req.send().await.unwrap();
                (res.status().as_u16(), res.text().await.unwrap())
            }
        })
        .collect();
    let results = join_all(requests).await;
    let wins = results.iter().filter(|(s, _)| *s == 201).count();
    assert_eq!(wins, 1, "{results:?}");
    for (status, body) in results.iter().filter(|(s, _)| *s != 201) {
        assert_eq!(*status, 409, "{body}");
        let p: Problem = serde_json::from_str(body).unwrap();
        assert_eq!(p.code, "account.taken");
        assert_eq!(p.field.as_deref(), Some("account_name"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_open_id_racing_to_bind_two_names_binds_once() {
    let env = Env::start().await;
    let requests: Vec<_> = (0..10)
        .map(|i| {
            let token = env.id_token("tn", "tntest");
            let req = env.http.post(env.api("registrations")).json(&staff_body(
                "tn",
                &token,
                &format!("tainan.name{i}"),
            ));
            async move {
                let res = req.send().await.unwrap();
                (res.status().as_u16(), res.text().await.unwrap())
            }
        })
        .collect();
    let results = join_all(requests).await;
    assert_eq!(
        results.iter().filter(|(s, _)| *s == 201).count(),
        1,
        "{results:?}"
    );
    for (status, body) in results.iter().filter(|(s, _)| *s != 201) {
        assert_eq!(*status, 409, "{body}");
        let p: Problem = serde_json::from_str(body).unwrap();
        assert_eq!(p.code, "openid.already_bound");
    }
}

/// Issue 12 item 9: the throttle counts an attempt before its password hash
/// is checked, atomically, so twenty parallel wrong passwords for one
/// account get at most `PER_ACCOUNT.max` hash checks (`auth.invalid_credentials`);
/// the rest are refused up front (`auth.throttled`, 429 + Retry-After).
/// Before, every one of them was checked (all answered 401).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_parallel_wrong_passwords_get_at_most_the_limit_checked() {
    let env = Env::start().await;
    let requests: Vec<_> = (0..20)
        .map(|i| {
            let req = env.http.post(env.api("sessions")).json(&serde_json::json!({
                "method": "password",
                "email": "parent.demo@example.com",
                "password": format!("wrong-password-{i}"),
            }));
            async move {
                let res = req.send().await.unwrap();
                let status = res.status().as_u16();
                let retry = res.headers().contains_key("retry-after");
                let problem: Problem = res.json().await.unwrap();
                (status, problem.code, retry)
            }
        })
        .collect();
    let results = join_all(requests).await;
    let checked = results.iter().filter(|(s, _, _)| *s == 401).count();
    let limit = educloud_sandbox::cloud::throttle::PER_ACCOUNT.max;
    assert!(
        (1..=limit).contains(&checked),
        "{checked} hash checks for {limit} allowed: {results:?}"
    );
    for (status, code, retry) in &results {
        match status {
            401 => assert_eq!(code, "auth.invalid_credentials"),
            429 => assert!(code == "auth.throttled" && *retry),
            other => panic!("unexpected {other} {code}"),
        }
    }
    // The right password is throttled too now (the account is locked out
    // for the window), as a sequential attacker would find it.
    let res = env
        .password_session("parent.demo@example.com", DEMO_PW)
        .await;
    problem(res, 429, "auth.throttled").await;
}
