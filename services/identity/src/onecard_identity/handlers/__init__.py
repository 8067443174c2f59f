"""Use cases of the identity service: one plain async function each."""
