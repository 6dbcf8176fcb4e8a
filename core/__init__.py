"""The ground floor: errors, ids, secrets, metadata, frequencies, state and settings; imports nothing above."""
