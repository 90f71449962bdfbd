//! Workloads: op generators, their vocabulary and the checkers each implies. (Built in issue 4/5.)
