//! Spans of time written for people: `45s`, `4m30s`, `3h`, `2d5h`.

use std::time::Duration;

/// A timeout exactly as long as it is, e.g. `30s`, `1m30s`, `250ms`.
pub fn exact(duration: Duration) -> String {
    let millis = duration.subsec_millis();
    let seconds = duration.as_secs();
    if seconds == 0 {
        return format!("{millis}ms");
    }
    let (hours, minutes, seconds) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    let mut text = String::new();
    if hours > 0 {
        text.push_str(&format!("{hours}h"));
    }
    if minutes > 0 {
        text.push_str(&format!("{minutes}m"));
    }
    if seconds > 0 {
        text.push_str(&format!("{seconds}s"));
    }
    if millis > 0 {
        text.push_str(&format!("{millis}ms"));
    }
    text
}

/// An age rounded the way `kubectl get` rounds it: precise while it is short, coarse once it
/// is long, because nobody needs the seconds of something three days old.
pub fn approximate(seconds: i64) -> String {
    let seconds = seconds.max(0);
    let (minutes, hours, days) = (seconds / 60, seconds / 3600, seconds / 86_400);
    if seconds < 120 {
        format!("{seconds}s")
    } else if minutes < 10 {
        match seconds % 60 {
            0 => format!("{minutes}m"),
            rest => format!("{minutes}m{rest}s"),
        }
    } else if hours < 3 {
        format!("{minutes}m")
    } else if hours < 8 {
        match minutes % 60 {
            0 => format!("{hours}h"),
            rest => format!("{hours}h{rest}m"),
        }
    } else if hours < 48 {
        format!("{hours}h")
    } else if days < 8 {
        match hours % 24 {
            0 => format!("{days}d"),
            rest => format!("{days}d{rest}h"),
        }
    } else {
        format!("{days}d")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_keeps_every_unit() {
        assert_eq!(exact(Duration::from_secs(30)), "30s");
        assert_eq!(exact(Duration::from_secs(90)), "1m30s");
        assert_eq!(exact(Duration::from_secs(3600)), "1h");
        assert_eq!(exact(Duration::from_millis(250)), "250ms");
        assert_eq!(exact(Duration::from_millis(1500)), "1s500ms");
    }

    #[test]
    fn approximate_drops_precision_as_ages_grow() {
        assert_eq!(approximate(-5), "0s");
        assert_eq!(approximate(45), "45s");
        assert_eq!(approximate(119), "119s");
        assert_eq!(approximate(270), "4m30s");
        assert_eq!(approximate(300), "5m");
        assert_eq!(approximate(45 * 60 + 12), "45m");
        assert_eq!(approximate(5 * 3600 + 20 * 60), "5h20m");
        assert_eq!(approximate(30 * 3600), "30h");
        assert_eq!(approximate(3 * 86_400 + 4 * 3600), "3d4h");
        assert_eq!(approximate(40 * 86_400), "40d");
    }
}
