"""The identity domain: cards, e-card codes and verification decisions. No I/O here."""
