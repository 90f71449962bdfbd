//! What the terminal shows: a progress bar while the run goes (when stderr is a terminal),
//! and a summary at the end.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use faultline_core::run::Recorder;
use indicatif::{ProgressBar, ProgressStyle};

/// Starts a progress bar that follows the recorder; None when stderr is not a terminal.
pub fn progress(
    recorder: Arc<Recorder>,
    time_limit: Duration,
) -> Option<(ProgressBar, tokio::task::JoinHandle<()>)> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new(time_limit.as_secs().max(1));
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len}s {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let b = bar.clone();
    let task = tokio::spawn(async move {
        loop {
            let [invoke, ok, fail, info, _] = recorder.counts.snapshot();
            b.set_position(recorder.started().elapsed().as_secs());
            let fault = recorder.current_fault();
            b.set_message(format!(
                "ops {invoke} ok {ok} fail {fail} info {info} | fault: {}",
                if fault.is_empty() { "none" } else { &fault }
            ));
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    Some((bar, task))
}
