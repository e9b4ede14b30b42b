//! Progress of a long scan: a bar on a terminal, a count in the log otherwise (every 10 % or
//! every 10 seconds, whichever comes first), so a service log shows the scan is alive.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// Scans shorter than this are not worth a progress display.
pub const MIN_TOTAL: u64 = 500;
const LOG_EVERY: Duration = Duration::from_secs(10);

pub struct Progress {
    label: String,
    total: u64,
    done: u64,
    bar: Option<indicatif::ProgressBar>,
    last_log: Instant,
    last_logged_tenth: u64,
    started: Instant,
}

impl Progress {
    /// A progress display for `total` messages; `None` below [`MIN_TOTAL`].
    pub fn start(label: &str, total: u64) -> Option<Progress> {
        if total < MIN_TOTAL {
            return None;
        }
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(total);
            let style = indicatif::ProgressStyle::with_template(
                "{msg} [{bar:40}] {pos}/{len} ({per_sec}, {eta} left)",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar.set_message(label.to_string());
            bar.enable_steady_tick(Duration::from_millis(250));
            bar
        });
        if bar.is_none() {
            tracing::info!("{label}: scanning {total} messages");
        }
        Some(Progress {
            label: label.to_string(),
            total,
            done: 0,
            bar,
            last_log: Instant::now(),
            last_logged_tenth: 0,
            started: Instant::now(),
        })
    }

    pub fn advance(&mut self, n: u64) {
        self.done = (self.done + n).min(self.total);
        if let Some(bar) = &self.bar {
            bar.set_position(self.done);
            return;
        }
        let tenth = self.done * 10 / self.total.max(1);
        if tenth > self.last_logged_tenth || self.last_log.elapsed() >= LOG_EVERY {
            self.last_logged_tenth = tenth;
            self.last_log = Instant::now();
            tracing::info!(
                "{}: {} of {} messages ({}%)",
                self.label,
                self.done,
                self.total,
                self.done * 100 / self.total.max(1)
            );
        }
    }

    pub fn finish(self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        tracing::info!(
            "{}: {} messages scanned in {:.1} s",
            self.label,
            self.done,
            self.started.elapsed().as_secs_f64()
        );
    }
}
