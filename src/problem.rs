//! One problem in what an operator configured. A leaf: it imports nothing of ours, so the settings and
//! the credential chain can both report in it.

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
