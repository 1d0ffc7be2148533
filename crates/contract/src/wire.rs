//! API wire types (filled in by the sandbox/contract work).
