"""The review UI: server-rendered pages for reviewers and authors, served under /review."""
