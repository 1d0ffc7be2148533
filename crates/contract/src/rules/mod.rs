//! Registration field rules (filled in by the rules work).
