"""Wrong and hostile invocations that printed a Python traceback (issue 27), each now one line naming
what is wrong, a non-zero exit, nothing half-written, and with --json a JSON error object on stdout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ngx_zk.artifacts import Circuit
from ngx_zk.chain.signer import from_settings
from ngx_zk.cli import main
from ngx_zk.config import load_settings
from ngx_zk.errors import SignerError

from .paths import MODELS

INPUT = str(MODELS / "mlp" / "input.json")


@pytest.fixture
def home(env: Path, mlp_circuit: Circuit, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh home that sees the session's mlp circuit, with the hostile files the cases name."""
    monkeypatch.setenv("NGX_ZK_CIRCUITS_DIR", str(mlp_circuit.path.parent))
    digits = "9" * 400
    (env / "huge.json").write_text(f'{{"input_data": [[{digits}, 1, 1, 1, 1, 1, 1, 1]]}}')
    (env / "a-folder").mkdir()
    (env / "a-file").write_text("not a folder")
    (env / "random.srs").write_bytes(bytes(range(256)) * 64)
    return env


CASES = [
    # (arguments, environment, exit status, words of the one line)
    (("commit", INPUT, "--model", "mlp", "--out", "/proc/s.json"), {}, 2, "cannot write /proc/s.json"),
    (("prove", "--model", "mlp", "--input", INPUT, "--out", "/proc/p/proof.json"), {}, 2, "cannot write /proc/p/proof.json"),
    (("commit", "huge.json", "--model", "mlp", "--out", "s.json"), {}, 1, "an integer of 400 digits) is outside"),
    (("commit", "/proc/self/mem", "--model", "mlp", "--out", "s.json"), {}, 1, "cannot read input file /proc/self/mem"),
    (("commit", "/dev/zero", "--model", "mlp", "--out", "s.json"), {}, 1, "/dev/zero is larger than 16,777,216 bytes"),
    (("commit", "a-folder", "--model", "mlp", "--out", "s.json"), {}, 1, "a-folder is a folder, not a file"),
    (
        ("model", "export", "models/mlp/model.py:Model", "--input-shape", "1,99999999999"),
        {},
        2,
        "99,999,999,999 elements per input is above the limit",
    ),
    (("prove-job", "mlp", "--input", INPUT, "--prove-window", "4294967296"), {}, 2, "4294967296 is not in the range"),
    (("prove-job", "mlp", "--input", INPUT, "--claim-window", "9" * 30), {}, 2, "is not in the range 1<=x<=4294967295"),
    (("prove-job", "mlp", "--input", INPUT, "--ramp-delay", "-1"), {}, 2, "-1 is not in the range"),
    (("prove-job", "mlp", "--input", INPUT, "--price", "1e-30"), {}, 2, "finer than the token's 18 decimals"),
    (("prove-job", "mlp", "--input", INPUT, "--price", "0"), {}, 2, "must be above 0 NGX"),
    (("prove-job", "mlp", "--input", INPUT, "--timeout", "nan"), {}, 2, "'nan' is not a finite number"),
    (("provider", "stake", "NaN"), {}, 2, "'NaN' is not a number of NGX"),
    (("worker", "--model", "mlp", "--log-file", "a-folder"), {}, 2, "'a-folder' is a directory"),
    (("worker", "--model", "mlp", "--log-file", "/proc/w.log"), {}, 2, "cannot write /proc/w.log"),
    (("devnet", "up"), {"NGX_ZK_HOME": "a-file"}, 1, "NGX_ZK_HOME='a-file' is not a folder"),
    (("model", "build", str(MODELS / "mlp"), "--tolerance", "nan"), {}, 2, "'nan' is not a finite number"),
    (("model", "build", str(MODELS / "mlp"), "--tolerance", "inf"), {}, 2, "'inf' is not a finite number"),
    (("job", "show", "0"), {}, 2, "0 is not in the range"),
    (("model", "build", str(MODELS / "mlp"), "--srs", "random.srs"), {}, 1, "random.srs is not a public KZG ceremony SRS"),
    (("jobs", "--rpc-url", "http://no-such-host.invalid:8545"), {}, 1, "host name not found (DNS)"),
    (("worker", "--model", "mlp", "--ray", "127.0.0.1:1"), {}, 1, "no Ray cluster answers at 127.0.0.1:1"),  # retried forever
    (("worker", "--model", "mlp", "--ray", "head-without-port"), {}, 2, "is not HOST:PORT"),
]


@pytest.mark.parametrize(
    ("args", "environ", "status", "words"), CASES, ids=lambda v: " ".join(v) if isinstance(v, tuple) else None
)
def test_a_hostile_invocation_is_one_line_and_a_json_error(
    home: Path, args: tuple[str, ...], environ: dict[str, str], status: int, words: str
) -> None:
    before = sorted(p.name for p in home.iterdir())
    result = CliRunner().invoke(main, [*args, "--json"], env=environ)
    out, err = result.stdout, result.stderr
    assert result.exit_code == status, out + err
    assert "Traceback" not in out + err and "0x" not in err, err  # no web3 dump, no signature bytes
    error = json.loads(out)
    assert words in error["error"] and error["code"] == ("usage" if status == 2 else error["code"])
    assert err.strip().splitlines()[-1].startswith("Error: ") and words in err.strip().splitlines()[-1]
    assert "proving" not in err and "calibrat" not in err, "refused before any work"
    assert sorted(p.name for p in home.iterdir()) == before, "nothing half-written"


def test_a_missing_or_malformed_keystore_says_so(tmp_path: Path) -> None:
    """A missing keystore is not found (it used to ask for a password); JSON that is no keystore is refused
    in one line (it used to raise KeyError: 'version')."""
    settings = load_settings({"NGX_ZK_HOME": str(tmp_path)})
    with pytest.raises(SignerError, match=r"keystore not found: .*nowhere\.json"):
        from_settings(settings, tmp_path / "nowhere.json")
    bad = tmp_path / "bad.json"
    for text in ('{"x": 1}', '{"version": 3}', "[]", '{"crypto": 5, "version": 3}'):
        bad.write_text(text)
        with_password = load_settings({"NGX_ZK_HOME": str(tmp_path), "NGX_ZK_KEYSTORE_PASSWORD": "pw"})
        with pytest.raises(SignerError, match=r"cannot open keystore|is not a JSON keystore"):
            from_settings(with_password, bad)


def test_a_random_srs_file_is_refused_before_the_build_starts(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """It used to be refused only after calibration and three timed proofs."""
    import ngx_zk.limits

    def no_build(*_: object, **__: object) -> None:
        raise AssertionError("the build started")

    monkeypatch.setattr(ngx_zk.limits, "run_limited", no_build)
    result = CliRunner().invoke(main, ["model", "build", str(MODELS / "mlp"), "--srs", "random.srs"])
    assert result.exit_code == 1 and "is not a public KZG ceremony SRS" in result.stderr and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("text", "wei"),
    [("10", 10 * 10**18), ("2.5", 25 * 10**17), ("1e3", 10**21), ("0.000000000000000001", 1), (" 7 ", 7 * 10**18)],
)
def test_one_ngx_parser_is_exact(text: str, wei: int) -> None:
    from ngx_zk.client import parse_price
    from ngx_zk.units import parse_ngx

    assert parse_ngx(text) == wei and parse_price(text) == wei


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("1e-30", "finer than the token's 18 decimals"),  # used to round to 0 silently
        ("0.0000000000000000015", "finer than"),
        ("nan", "not a number of NGX"),
        ("-Infinity", "not a number of NGX"),
        ("-1", "must be above 0"),
        ("0", "must be above 0"),
        ("1e80", "more than the chain can count"),
        ("ten", "not a number of NGX"),
    ],
)
def test_an_amount_that_is_not_exactly_ngx_is_refused(text: str, words: str) -> None:
    from ngx_zk.client import parse_price
    from ngx_zk.errors import InputError
    from ngx_zk.units import parse_ngx

    for parse in (lambda t: parse_ngx(t, positive=True), parse_price):
        with pytest.raises(InputError) as refused:
            parse(text)
        assert words in str(refused.value)
