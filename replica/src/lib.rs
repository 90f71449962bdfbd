//! The built-in replicated store served by `faultline node`. (Built in issue 3.)
