//! Collecting a request's field violations.

use std::fmt;

use crate::error::{Error, Invalid, InvalidReason, Violation};

/// The most violations reported for one request. Every violation travels in
/// the response's trailers, which clients bound (HTTP/2 header lists are
/// commonly limited to 16 KiB): a request with a hundred bad items gets the
/// first ones and a count of the rest, not a reset stream.
pub const MAX_VIOLATIONS: usize = 16;

/// Collects the violations of one request, so that a caller learns of every
/// wrong field at once instead of one per round trip.
#[derive(Debug, Default)]
pub struct Fields {
    violations: Vec<Violation>,
    /// Violations past [`MAX_VIOLATIONS`], counted, not kept.
    more: usize,
}

impl Fields {
    /// A fresh collector.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps `result`'s value, or records its violation at `field`.
    pub fn take<T>(&mut self, field: impl fmt::Display, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(description) => {
                self.violate(field, description);
                None
            }
        }
    }

    /// Records a violation at `field`.
    pub fn violate(&mut self, field: impl fmt::Display, description: impl Into<String>) {
        if self.violations.len() == MAX_VIOLATIONS {
            self.more += 1;
            return;
        }
        self.violations.push(Violation {
            field: field.to_string(),
            description: description.into(),
        });
    }

    /// Whether no violation was recorded so far.
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.violations.is_empty()
    }

    /// The built request, or every violation recorded. `build` returns
    /// `None` only where a `take` recorded a violation.
    pub fn finish<T>(self, build: impl FnOnce() -> Option<T>) -> Result<T, Error> {
        if !self.violations.is_empty() {
            let mut violations = self.violations;
            if self.more > 0 {
                violations.push(Violation {
                    field: String::new(),
                    description: format!("and {} more violations", self.more),
                });
            }
            return Err(Error::InvalidArgument(Invalid {
                reason: InvalidReason::InvalidArgument,
                violations,
            }));
        }
        build().ok_or_else(|| Error::internal("validation", "a field was dropped silently"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request with many bad fields reports the first ones and a count.
    #[test]
    fn violations_are_capped() {
        let mut fields = Fields::new();
        for i in 0..100 {
            fields.violate(format_args!("items[{i}]"), "bad");
        }
        let Err(Error::InvalidArgument(invalid)) = fields.finish(|| Some(())) else {
            panic!("expected a refusal")
        };
        assert_eq!(invalid.violations.len(), MAX_VIOLATIONS + 1);
        assert_eq!(
            invalid.violations[MAX_VIOLATIONS].description,
            "and 84 more violations"
        );
    }
}
