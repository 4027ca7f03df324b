"""tools/deploy/tfvars.py: the tfvars subset make deploy reads, and what it refuses (with the line number)."""

from __future__ import annotations

import pytest

from tools.deploy.tfvars import TfvarsError, parse_tfvars


def test_reads_strings_numbers_booleans_and_comments() -> None:
    text = """
# the production environment
certificate_arn = "arn:aws:acm:eu-west-1:123456789012:certificate/abc"  # the ALB's
asg_max_size    = 6
// a C++-style comment
db_allocated_storage=100 // trailing
ratio = 0.5
offset = -3
big = 1e3
deletion_protection = true
debug = false
"""
    assert parse_tfvars(text) == {
        "certificate_arn": "arn:aws:acm:eu-west-1:123456789012:certificate/abc",
        "asg_max_size": 6,
        "db_allocated_storage": 100,
        "ratio": 0.5,
        "offset": -3,
        "big": 1000.0,
        "deletion_protection": True,
        "debug": False,
    }


def test_types_are_kept() -> None:
    values = parse_tfvars('a = 6\nb = "6"\nc = true\nd = "true"')
    assert values == {"a": 6, "b": "6", "c": True, "d": "true"}
    assert isinstance(values["a"], int) and isinstance(values["c"], bool)


def test_string_escapes_and_hash_inside_a_string() -> None:
    values = parse_tfvars(r'note = "a \"quoted\" # not a comment \\ // nor this\n"' + "\n" + 'cost = "$${literal}"')
    assert values == {"note": 'a "quoted" # not a comment \\ // nor this\n', "cost": "${literal}"}


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        ('a = 1\nsubnets = ["a", "b"]', 2, "lists, maps"),
        ("a = 1\n\ntags = {\n", 3, "lists, maps"),
        ('a = "x"\nb = <<EOT\n', 2, "lists, maps"),
        ("a = null", 1, "lists, maps"),
        ("a = 007", 1, "not a quoted string"),
        ("a = yes", 1, "not a quoted string"),
        ('a = "open', 1, "no closing quote"),
        ('a = "${var.b}"', 1, "template"),
        ('a = "%{if x}"', 1, "template"),
        (r'a = "\q"', 1, "unsupported escape"),
        ('a = "x" "y"', 1, "unexpected"),
        ("a = 1 2", 1, "unexpected"),
        ("a = 1\na = 2", 2, "set twice"),
        ("/* block */ a = 1", 1, "expected `name = value`"),
        ("a 1", 1, "expected `name = value`"),
        ("= 1", 1, "expected `name = value`"),
    ],
)
def test_refuses_what_it_cannot_read_with_the_line(text: str, line: int, says: str) -> None:
    with pytest.raises(TfvarsError) as raised:
        parse_tfvars(text, source="environments/prod.tfvars")
    assert f"environments/prod.tfvars:{line}:" in str(raised.value)
    assert says in str(raised.value)


def test_an_empty_or_comment_only_file_is_empty() -> None:
    assert not parse_tfvars("")
    assert not parse_tfvars("# nothing yet\n// still nothing\n\n")
