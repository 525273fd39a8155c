//! Scenario tests: whole flows against the real services of a running stack (never mocks).
