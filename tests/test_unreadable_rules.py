"""Nothing under a rules path is skipped silently (issue 10, item 1).

A protocol replaced by a dangling symlink used to vanish from the bundle without a word:
``sharelaw check`` said OK and a request the protocol's practices refused became
``may_share``. Every file or folder under a rules path that is not a readable regular rule
file is now ``ruleset_unreadable`` naming its path, from ``Bundle.load``, ``sharelaw check``,
``sharelaw decide --rules`` and ``sharelaw test``; an unreadable file is that coded error,
never a raw ``PermissionError``, and a FIFO is never opened for reading (it would block).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
from pathlib import Path

import pytest

from sharelaw import Engine, scenarios
from sharelaw.cli import main
from sharelaw.errors import RulesetErrors
from sharelaw.rules.bundle import Bundle, default_ruleset_dir
from sharelaw.rules.loader import discover, read_rule_file
from sharelaw.vocab import Outcome

SHIPPED = default_ruleset_dir()
SCENARIOS = Path(__file__).parent / "scenarios" / "protocol_exampleton.yaml"
YES = {"value": "yes", "reason": "Recorded by the practitioner."}

#: The children's charity offers early help information without the young person's consent:
#: national law alone allows it; the example protocol's clause 7.3 does not (tests/test_protocols.py).
CHARITY_TO_CSC = {
    "as_at": "2023-03-14",
    "interaction": "offer",
    "discloser": {"kind": "voluntary_organisation", "legal_entity": "exampleton-young-peoples-trust"},
    "recipient": {"kind": "la_childrens_social_care", "legal_entity": "exampleton-city-council"},
    "subject": {"age": 15, "adult_at_risk": "no", "capacity": "yes"},
    "purpose": "early_help",
    "data": {"categories": ["identity_contact", "social_care_record"], "identifiability": "identifiable",
             "in_confidence": "yes", "already_public": "no"},
    "consent": {"state": "not_sought"},
    "risk_of_harm": {"level": "welfare_concern", "to": "subject"},
    "statutory_request": "none",
    "assessment": {"necessary": YES, "proportionate": YES, "public_interest": YES},
}


@pytest.fixture(autouse=True)
def no_hang():
    """A blocked read (of a FIFO) fails the test instead of hanging the suite."""

    def timeout(signum, frame):
        raise TimeoutError("blocked: something opened a FIFO or device for reading")

    old = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


@pytest.fixture
def rules(tmp_path) -> Path:
    """A private copy of the shipped rulesets/ (national law and the example protocol)."""
    copy = tmp_path / "rulesets"
    shutil.copytree(SHIPPED, copy)
    return copy


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def unreadable(exc: RulesetErrors) -> list[str]:
    return [e.file for e in exc.errors if e.code == "ruleset_unreadable"]


# ---------------------------------------------------------------------- the reproducer


def test_a_protocol_replaced_by_a_dangling_symlink_stops_the_rules_loading(rules, capsys):
    protocol = rules / "protocols" / "exampleton_cyp.yaml"
    # Why it matters: with the protocol the charity must not share; without it, it may.
    with_protocol = Engine(Bundle.load(rules), evaluator="reference").decide(CHARITY_TO_CSC)
    national_only = Engine(Bundle.load(rules / "national"), evaluator="reference").decide(CHARITY_TO_CSC)
    assert (with_protocol.outcome, national_only.outcome) == (Outcome.MUST_NOT_SHARE, Outcome.MAY_SHARE)

    protocol.unlink()
    protocol.symlink_to(rules / "protocols" / "moved-away.yaml")

    with pytest.raises(RulesetErrors) as info:
        Bundle.load(rules)
    (err,) = info.value.errors
    assert (err.code, err.file) == ("ruleset_unreadable", str(protocol))
    assert "dangling symbolic link" in err.message

    code, out, err_text = cli(capsys, "check", str(rules))
    assert code == 1
    assert f"{protocol}: ruleset_unreadable" in out
    assert "FAILED" in out and "OK:" not in out

    code, out, _ = cli(capsys, "check", str(rules), "--format", "json")
    report = json.loads(out)
    assert code == 1 and report["ok"] is False
    assert [(d["code"], d["file"]) for d in report["diagnostics"]] == [("ruleset_unreadable", str(protocol))]

    request = rules.parent / "request.json"
    request.write_text(json.dumps(CHARITY_TO_CSC), encoding="utf-8")
    code, out, err_text = cli(capsys, "decide", str(request), "--rules", str(rules))
    assert code == 2 and out == ""  # no decision, least of all the may_share of national law alone
    assert str(protocol) in err_text and "ruleset_unreadable" in err_text


# ---------------------------------------------------------------------- every kind of unreadable


def _dangling(folder: Path) -> Path:
    path = folder / "gone.yaml"
    path.symlink_to(folder / "nowhere.yaml")
    return path


def _dangling_folder_link(folder: Path) -> Path:
    """A link that was a folder of protocols: its name says nothing of rules, it is still an error."""
    path = folder / "partners"
    path.symlink_to(folder / "no-such-folder")
    return path


def _loop(folder: Path) -> Path:
    a, b = folder / "a.yaml", folder / "b.yaml"
    a.symlink_to(b)
    b.symlink_to(a)
    return a


def _self_loop(folder: Path) -> Path:
    path = folder / "self.yaml"
    path.symlink_to(path)
    return path


def _fifo(folder: Path) -> Path:
    path = folder / "pipe.yaml"
    os.mkfifo(path)
    return path


def _fifo_any_name(folder: Path) -> Path:
    path = folder / "pipe"
    os.mkfifo(path)
    return path


def _device(folder: Path) -> Path:
    path = folder / "null.yaml"
    path.symlink_to("/dev/null")  # a character device named *.yaml
    return path


def _socket(folder: Path) -> Path:
    path = folder / "s.yaml"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    sock.close()
    return path


def _folder_named_yaml(folder: Path) -> Path:
    path = folder / "more.yaml"
    path.mkdir()
    return path


def _cycle(folder: Path) -> Path:
    path = folder / "again"
    path.symlink_to(folder.parent)  # back up to the rules root: would be walked for ever
    return path


CASES = [_dangling, _dangling_folder_link, _loop, _self_loop, _fifo, _fifo_any_name, _device, _socket,
         _folder_named_yaml, _cycle]


@pytest.mark.parametrize("make", CASES, ids=[c.__name__.strip("_") for c in CASES])
def test_every_unreadable_entry_is_a_coded_error_naming_it(rules, capsys, make):
    bad = make(rules / "protocols")
    with pytest.raises(RulesetErrors) as info:
        Bundle.load(rules)
    assert str(bad) in unreadable(info.value), [e.render() for e in info.value.errors]
    assert all(e.code == "ruleset_unreadable" for e in info.value.errors)

    code, out, _ = cli(capsys, "check", str(rules))
    assert code == 1 and f"{bad}: ruleset_unreadable" in out, out

    code, out, err = cli(capsys, "test", str(rules), str(SCENARIOS))
    assert code == 2 and str(bad) in err and "ruleset_unreadable" in err, err


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads mode-000 files and folders: nothing to refuse")
@pytest.mark.parametrize("what", ["file", "folder"])
def test_a_file_or_folder_without_read_permission_is_a_coded_error_not_permission_error(rules, capsys, what):
    bad = rules / "protocols" / "exampleton_cyp.yaml" if what == "file" else rules / "protocols"
    bad.chmod(0)
    try:
        with pytest.raises(RulesetErrors) as info:
            Bundle.load(rules)
        assert str(bad) in unreadable(info.value)
        code, out, _ = cli(capsys, "check", str(rules))
        assert code == 1 and f"{bad}: ruleset_unreadable" in out
    finally:
        bad.chmod(0o755)


def test_a_fifo_is_never_opened_for_reading(tmp_path):
    """Even when a path passed discovery and was swapped for a FIFO before it was read."""
    fifo = tmp_path / "swapped.yaml"
    os.mkfifo(fifo)
    with pytest.raises(RulesetErrors) as info:
        read_rule_file(fifo)  # would block for ever if it opened the FIFO to read
    (err,) = info.value.errors
    assert err.code == "ruleset_unreadable" and "FIFO" in err.message


def test_a_rules_path_that_is_itself_a_dangling_symlink_is_named(tmp_path, capsys):
    link = tmp_path / "rules"
    link.symlink_to(tmp_path / "unmounted")
    with pytest.raises(RulesetErrors) as info:
        Bundle.load(link)
    assert unreadable(info.value) == [str(link)]
    code, out, _ = cli(capsys, "check", str(link))
    assert code == 1 and "ruleset_unreadable" in out


def test_an_unreadable_scenario_file_is_a_coded_error(tmp_path, capsys):
    scen = tmp_path / "scenarios"
    scen.mkdir()
    shutil.copy(SCENARIOS, scen / SCENARIOS.name)
    bad = _dangling(scen)
    with pytest.raises(RulesetErrors) as info:
        scenarios.load([scen])
    assert unreadable(info.value) == [str(bad)]
    code, _, err = cli(capsys, "test", str(scen))
    assert code == 2 and str(bad) in err


# ---------------------------------------------------------------------- what still loads


def test_a_symlinked_folder_of_rules_is_followed_not_skipped(tmp_path):
    """A deployment may link its protocols folder in; its rules load (they used to be skipped)."""
    root = tmp_path / "rules"
    shutil.copytree(SHIPPED / "national", root / "national")
    (root / "protocols").symlink_to(SHIPPED / "protocols", target_is_directory=True)
    assert set(Bundle.load(root).protocols) == set(Bundle.load(SHIPPED).protocols)


def test_notes_beside_the_rules_are_ignored_and_the_hash_is_unchanged(rules):
    before = Bundle.load(rules).content_hash
    (rules / "protocols" / "README.md").write_text("Signed copies are kept by the IG team.\n", encoding="utf-8")
    assert Bundle.load(rules).content_hash == before
    assert all(p.suffix == ".yaml" for p in discover([rules]))


def test_the_code_is_documented_for_rule_writers():
    from sharelaw.rules import loader

    assert "``ruleset_unreadable``" in (loader.__doc__ or "")
    doc = (Path(__file__).resolve().parent.parent / "docs" / "rulesets.md").read_text(encoding="utf-8")
    assert "| `ruleset_unreadable` |" in doc
