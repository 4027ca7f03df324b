"""The project driven through the pinned cdktf CLI (``npx cdktf``), as a user of ``cdktf deploy`` would."""
