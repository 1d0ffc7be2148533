//! The demo users every county IdP knows (clearly fake, documented on the
//! sandbox home page): `{code}test` (教師 / 專任教師), `{code}staff` (職員),
//! `{code}student` (學生) and `{code}bound` (教師, bound to the Education
//! Cloud account `{code}bound@mail.edu.tw` by the cloud half), all with the
//! password [`DEMO_PASSWORD`].
//!
//! Subjects are UUIDv5 values derived from county and user name, so they
//! survive restarts; the Kaohsiung profile's `sub` is pairwise (per client).

use educloud_contract::county::{CountyInfo, IdpProfile};
use uuid::Uuid;

/// The password of every demo county user. Clearly fake.
pub const DEMO_PASSWORD: &str = "demo-password";
/// The Education Cloud password of the pre-bound `{code}bound@mail.edu.tw`
/// accounts and of the demo "other" members (the cloud half seeds them).
pub const DEMO_CLOUD_PASSWORD: &str = "Demo-pass-2026!";

/// Namespace for the demo subjects: UUIDv5(URL, "https://sandbox.educloud.invalid/idp").
fn namespace() -> Uuid {
    Uuid::new_v5(
        &Uuid::NAMESPACE_URL,
        b"https://sandbox.educloud.invalid/idp",
    )
}

/// A student's class, as sso.edu.tw's `classinfo` carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassInfo {
    pub grade: &'static str,
    pub class_no: &'static str,
    pub class_title: &'static str,
}

/// One demo account at one county IdP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoUser {
    /// County code (e.g. `ntpc`).
    pub county: &'static str,
    /// The county account name typed on the login page (e.g. `ntpctest`).
    pub username: String,
    /// Full name, e.g. 王小明.
    pub name: &'static str,
    pub family_name: &'static str,
    pub given_name: &'static str,
    /// 教師 / 職員 / 學生.
    pub role: &'static str,
    /// Job title, e.g. 專任教師.
    pub title: &'static str,
    pub school_id: String,
    pub school_name: String,
    /// The county mailbox; `None` where the county gives none (Kaohsiung
    /// students).
    pub email: Option<String>,
    /// `M` or `F`.
    pub gender: &'static str,
    pub class_info: Option<ClassInfo>,
    /// The Education Cloud account this county account is bound to at start
    /// (only `{code}bound`).
    pub bound_account: Option<String>,
    /// Whether `sub` is pairwise (per client id).
    pairwise: bool,
}

impl DemoUser {
    /// The `sub` a client with `client_id` sees for this user: a public UUID
    /// per county, or for the Kaohsiung profile a pairwise one per client.
    pub fn subject_for(&self, client_id: &str) -> String {
        let name = if self.pairwise {
            format!("{}:pairwise:{client_id}:{}", self.county, self.username)
        } else {
            format!("{}:{}", self.county, self.username)
        };
        Uuid::new_v5(&namespace(), name.as_bytes()).to_string()
    }

    /// `preferred_username`: the county account name.
    pub fn preferred_username(&self) -> &str {
        &self.username
    }
}

struct Template {
    suffix: &'static str,
    name: &'static str,
    family: &'static str,
    given: &'static str,
    role: &'static str,
    title: &'static str,
    gender: &'static str,
    student: bool,
    bound: bool,
}

const TEMPLATES: [Template; 4] = [
    Template {
        suffix: "test",
        name: "王小明",
        family: "王",
        given: "小明",
        role: "教師",
        title: "專任教師",
        gender: "M",
        student: false,
        bound: false,
    },
    Template {
        suffix: "staff",
        name: "陳美玲",
        family: "陳",
        given: "美玲",
        role: "職員",
        title: "幹事",
        gender: "F",
        student: false,
        bound: false,
    },
    Template {
        suffix: "student",
        name: "林志豪",
        family: "林",
        given: "志豪",
        role: "學生",
        title: "學生",
        gender: "M",
        student: true,
        bound: false,
    },
    Template {
        suffix: "bound",
        name: "張雅婷",
        family: "張",
        given: "雅婷",
        role: "教師",
        title: "導師",
        gender: "F",
        student: false,
        bound: true,
    },
];

/// The demo school of a county: New Taipei's is the seed's 014569
/// 新北市立育林國民中學; the others are clearly made up (ids 9xx001).
pub fn demo_school(county: &CountyInfo, index: usize) -> (String, String) {
    match county.code {
        "ntpc" => ("014569".into(), "新北市立育林國民中學".into()),
        "moe" => (format!("9{index:02}001"), "國立示範高級中學".into()),
        "tp" => (format!("9{index:02}001"), "臺北市立示範國民小學".into()),
        _ => (
            format!("9{index:02}001"),
            format!("{}立示範國民中學", county.name_zh),
        ),
    }
}

/// The demo users of one county (`index` = its position in `COUNTIES`).
pub fn demo_users_for(county: &'static CountyInfo, index: usize) -> Vec<DemoUser> {
    let (school_id, school_name) = demo_school(county, index);
    let pairwise = county.profile == IdpProfile::Kaohsiung;
    TEMPLATES
        .iter()
        .map(|t| {
            let username = format!("{}{}", county.code, t.suffix);
            let email = if pairwise && t.student {
                None
            } else {
                Some(format!("{username}@{}.edu.tw", county.code))
            };
            DemoUser {
                county: county.code,
                name: t.name,
                family_name: t.family,
                given_name: t.given,
                role: t.role,
                title: t.title,
                school_id: school_id.clone(),
                school_name: school_name.clone(),
                email,
                gender: t.gender,
                class_info: t.student.then_some(ClassInfo {
                    grade: "3",
                    class_no: "6",
                    class_title: "三年六班",
                }),
                bound_account: t.bound.then(|| format!("{username}@mail.edu.tw")),
                pairwise,
                username,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use educloud_contract::county::{find, COUNTIES};

    fn users(code: &str) -> Vec<DemoUser> {
        let i = COUNTIES.iter().position(|c| c.code == code).unwrap();
        demo_users_for(find(code).unwrap(), i)
    }

    #[test]
    fn ntpc_test_teacher_matches_the_seed() {
        let u = users("ntpc");
        let t = u.iter().find(|u| u.username == "ntpctest").unwrap();
        assert_eq!(
            (
                t.role,
                t.title,
                t.school_id.as_str(),
                t.school_name.as_str()
            ),
            ("教師", "專任教師", "014569", "新北市立育林國民中學")
        );
        assert!(u.iter().any(|u| u.username == "ntpcbound"
            && u.bound_account.as_deref() == Some("ntpcbound@mail.edu.tw")));
    }

    #[test]
    fn subjects_are_stable_uuids_and_distinct() {
        let a = users("ntpc");
        let b = users("ntpc");
        assert_eq!(a[0].subject_for("x"), b[0].subject_for("y"));
        assert!(Uuid::parse_str(&a[0].subject_for("x")).is_ok());
        let all: std::collections::HashSet<_> = COUNTIES
            .iter()
            .enumerate()
            .flat_map(|(i, c)| demo_users_for(c, i))
            .map(|u| u.subject_for("educloud-desktop"))
            .collect();
        assert_eq!(all.len(), COUNTIES.len() * 4);
    }

    #[test]
    fn kaohsiung_subjects_are_pairwise() {
        let kh = users("kh");
        assert_ne!(kh[0].subject_for("a"), kh[0].subject_for("b"));
        assert_eq!(kh[0].subject_for("a"), kh[0].subject_for("a"));
        assert!(kh.iter().any(|u| u.email.is_none()));
    }
}
