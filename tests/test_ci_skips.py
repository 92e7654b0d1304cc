"""With ``CI=true`` every skip is a failure (tests/conftest.py ``SkipsFailInCI``); without, a skip.

Each test runs an inner pytest session (``pytester``) with the plugin over a small project: a
test that calls ``pytest.skip``, one skipped by a ``skipif`` mark (raised in setup), a module that
``importorskip``s a missing module, a directory whose ``conftest.py`` does, and a passing test.
"""

from __future__ import annotations

import pytest

CI_SKIPS_PLUGIN = "chachaml-ci-skips-fail"  # the name tests/conftest.py registers it under
MISSING = "chachaml_no_such_module_for_tests"


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(
        test_tests="""
            import pytest

            def test_passes():
                pass

            def test_skips_inside():
                pytest.skip("needs a unicorn")

            @pytest.mark.skipif(True, reason="needs a dragon")
            def test_skipped_by_mark():
                pass
        """,
        test_optional=f"""
            import pytest

            pytest.importorskip("{MISSING}")

            def test_never_collected():
                pass
        """,
    )
    sub = pytester.mkdir("needs_extra")
    (sub / "conftest.py").write_text(
        f"import pytest\n\npytest.importorskip('{MISSING}_extra')\n", encoding="utf-8"
    )
    (sub / "test_extra.py").write_text("def test_never_collected():\n    pass\n", encoding="utf-8")
    return pytester


def _run(project: pytest.Pytester, request: pytest.FixtureRequest) -> pytest.RunResult:
    plugin = request.config.pluginmanager.get_plugin(CI_SKIPS_PLUGIN)
    assert plugin is not None
    return project.runpytest_inprocess("-p", "no:cacheprovider", "-rfs", plugins=[type(plugin)()])


def _failures(result: pytest.RunResult) -> dict[str, str]:
    reports = result.reprec.getreports(  # type: ignore[attr-defined]
        ("pytest_collectreport", "pytest_runtest_logreport")
    )
    return {r.nodeid: r.longreprtext for r in reports if r.failed}


def test_with_ci_every_skip_is_a_failure_with_its_reason(
    project: pytest.Pytester, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    result = _run(project, request)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    failures = _failures(result)
    assert set(failures) == {
        "test_tests.py::test_skips_inside",
        "test_tests.py::test_skipped_by_mark",
        "test_optional.py::skipped-at-collection",
        "needs_extra::skipped-at-collection",
    }
    assert "needs a unicorn" in failures["test_tests.py::test_skips_inside"]
    assert "needs a dragon" in failures["test_tests.py::test_skipped_by_mark"]
    assert f"could not import '{MISSING}'" in failures["test_optional.py::skipped-at-collection"]
    assert f"'{MISSING}_extra'" in failures["needs_extra::skipped-at-collection"]
    assert all("CI=true" in text for text in failures.values())
    # Failures, not errors (a skip raised in setup would otherwise count as an error), and the
    # session went on past the modules skipped at collection.
    result.assert_outcomes(passed=1, failed=4)
    result.stdout.fnmatch_lines(
        [
            "FAILED test_tests.py::test_skips_inside - *needs a unicorn*",
            "FAILED test_tests.py::test_skipped_by_mark - *needs a dragon*",
        ],
        consecutive=False,
    )


@pytest.mark.parametrize("ci", [None, "false", ""])
def test_without_ci_skips_stay_skips(
    project: pytest.Pytester,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    ci: str | None,
) -> None:
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    result = _run(project, request)
    assert result.ret == pytest.ExitCode.OK
    assert _failures(result) == {}
    result.assert_outcomes(passed=1, skipped=4)
