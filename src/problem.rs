//! One problem in what an operator configured, and the list a check collects them in. A leaf: it imports
//! nothing of ours, so the settings, the start-up step and the credential chain can all report in it.

use std::fmt;

/// One problem in the configuration (a key of the file, or a variable of the environment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub key: String,
    /// Already redacted where the key holds a secret.
    pub value: String,
    pub problem: String,
    pub fix: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} = {}: {}. Fix: {}",
            self.key, self.value, self.problem, self.fix
        )
    }
}

/// Every problem found so far: checks go on after the first one, so the operator sees all of them at once.
#[derive(Debug, Default)]
pub(crate) struct Problems(pub Vec<ConfigProblem>);

impl Problems {
    pub(crate) fn add(
        &mut self,
        key: impl Into<String>,
        value: impl fmt::Display,
        problem: &str,
        fix: impl Into<String>,
    ) {
        self.0.push(ConfigProblem {
            key: key.into(),
            value: value.to_string(),
            problem: problem.to_owned(),
            fix: fix.into(),
        });
    }

    /// Adds `problem` unless it is already listed (one broken input shared by several sources).
    pub(crate) fn push_once(&mut self, problem: ConfigProblem) {
        if !self.0.contains(&problem) {
            self.0.push(problem);
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
