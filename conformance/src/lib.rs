//! The conformance suites: implementation-neutral cases run against a target through one seam.
