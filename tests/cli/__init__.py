"""The project driven through the pinned cdktf CLI (``npx cdktf``): synth works, deploy/diff/destroy refuse at once."""
