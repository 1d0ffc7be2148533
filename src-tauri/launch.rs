//! The launch clock: when the process started, the shell's launch phases and
//! the page's own marks, placed on one timeline (ms since the process
//! started) for the launch → interactive measurement (`ui_ready`,
//! `EDUCLOUD_LAUNCH_TRACE=1`, `scripts/bench`).

use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct LaunchClock {
    started: Instant,
    /// The same moment as Unix ms, to place the page's marks on this clock.
    started_unix_ms: f64,
    phases: Mutex<Vec<(&'static str, f64)>>,
}

impl LaunchClock {
    pub fn new(started: Instant) -> Self {
        let now_unix_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0);
        LaunchClock {
            started,
            started_unix_ms: now_unix_ms - started.elapsed().as_secs_f64() * 1000.0,
            phases: Mutex::new(Vec::new()),
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Notes that a launch phase ended now.
    pub fn mark(&self, phase: &'static str) {
        let ms = self.started.elapsed().as_secs_f64() * 1000.0;
        self.phases
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((phase, ms));
    }

    /// One JSON object: the shell's phases and the page's marks, all in ms
    /// since the process started.
    pub fn timeline(&self, marks: Option<serde_json::Value>) -> serde_json::Value {
        let mut out = serde_json::Map::new();
        if let Some(cpu) = process_cpu_ms() {
            out.insert("cpu_ms".into(), round(cpu));
        }
        for (phase, ms) in self.phases.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            out.insert((*phase).to_string(), round(*ms));
        }
        if let Some(serde_json::Value::Object(marks)) = marks {
            // The page's clock starts at its time origin (Unix ms).
            let origin = marks
                .get("page_origin_ms")
                .and_then(|v| v.as_f64())
                .map(|o| o - self.started_unix_ms);
            if let Some(origin) = origin {
                out.insert("page.origin".into(), round(origin));
                for (name, v) in &marks {
                    if let (false, Some(ms)) = (name == "page_origin_ms", v.as_f64()) {
                        out.insert(format!("page.{name}"), round(origin + ms));
                    }
                }
            }
        }
        serde_json::Value::Object(out)
    }
}

/// CPU time (user + system) this process has used so far, in ms (Linux;
/// `None` elsewhere or when `/proc` cannot be read).
fn process_cpu_ms() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    cpu_ms_from_stat(&stat)
}

/// Parses `/proc/<pid>/stat`: utime and stime are fields 14 and 15, counted
/// after the command name (which may hold spaces and parentheses).
fn cpu_ms_from_stat(stat: &str) -> Option<f64> {
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // USER_HZ is 100 on every Linux this ships to.
    Some((utime + stime) * 10.0)
}

fn round(ms: f64) -> serde_json::Value {
    serde_json::json!((ms * 10.0).round() / 10.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_is_read_after_a_command_name_with_spaces() {
        let stat = "4242 (educloud (x) y) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 1 0";
        assert_eq!(cpu_ms_from_stat(stat), Some(3000.0));
        assert_eq!(cpu_ms_from_stat("garbage"), None);
    }

    #[test]
    fn page_marks_are_placed_on_the_process_clock() {
        let clock = LaunchClock::new(Instant::now());
        clock.mark("setup");
        let origin = clock.started_unix_ms + 100.0;
        let t = clock.timeline(Some(serde_json::json!({
            "page_origin_ms": origin,
            "painted": 50.0,
        })));
        assert_eq!(t["page.origin"], serde_json::json!(100.0));
        assert_eq!(t["page.painted"], serde_json::json!(150.0));
        assert!(t.get("setup").is_some());
        assert!(t.get("page.page_origin_ms").is_none());
    }
}
