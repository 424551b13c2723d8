"""Chapters: Markdown files under TUTORIALS_DIR, loaded, rendered once and cached."""
