//! Filled by the issue-3 work.
