"""The Cloudflare face's pure text pieces (COMPAT §1.3, §1.6): the offline
classifier, the summary line, the type maps, the extractive answer."""

from __future__ import annotations

import pytest

from aghmem.errors import ValidationError
from aghmem.features.cloudflare.answer import AnswerSource, compose_answer
from aghmem.features.cloudflare.classify import cf_type_of, native_type, natives_read_as, read_back, summary_of
from aghmem.features.cloudflare.memories import cf_time
from aghmem.model import MemoryType

# --- the classifier ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # COMPAT §1.6's check cases
        ("The user prefers concise answers.", "instruction"),
        ("Deployed billing API v2.3.0 to production on 2026-04-15.", "event"),
        ("Need to update the README after the refactor.", "task"),
        ("Alice works on the billing team.", "fact"),
        # task comes first, even with a date or a rule word in it
        ("TODO: migrate the cron jobs by 2026-05-01.", "task"),
        ("We should follow-up with the vendor.", "task"),
        ("Investigating the flaky login test.", "task"),
        ("Remind me to renew the certificate.", "task"),
        ("The refactor is in progress.", "task"),
        # events: past-tense actions and dates
        ("We merged the auth branch.", "event"),
        ("The outage happened yesterday.", "event"),
        ("Budget review was last month.", "event"),
        ("Kickoff with the design team on March 3.", "event"),
        ("Kickoff on 3rd of May with the design team.", "event"),
        ("The launch is May 12th.", "event"),
        # "may" the verb is not a date
        ("The user may switch to vim.", "fact"),
        ("You may use tabs here.", "fact"),  # "use" is not at the start, and "may" is no rule word
        # instructions: imperative starts, rule words, preferences about output
        ("Use pnpm, not npm.", "instruction"),
        ("  - Always run the linter before committing.", "instruction"),
        ("Tests must pass before a merge request.", "instruction"),
        ("Don’t push to main.", "instruction"),
        ("She prefers replies in German.", "instruction"),
        ("A terse response style is preferred.", "instruction"),
        # facts
        ("I prefer small commits with clear messages.", "fact"),
        ("The staging database is Postgres 16.", "fact"),
        ("", "fact"),
    ],
)
def test_cf_type_of(text: str, expected: str) -> None:
    assert cf_type_of(text) == expected


def test_word_boundaries() -> None:
    assert cf_type_of("Remet and metadata are fields.") == "fact"  # "met" inside words
    assert cf_type_of("The pendingQueue is a class.") == "fact"
    assert cf_type_of("A mustard-coloured theme.") == "fact"
    assert cf_type_of("Mayor visits on Tuesday.") == "fact"


# --- the summary line -------------------------------------------------------------


def test_one_short_line_is_its_own_summary() -> None:
    assert summary_of("The user prefers concise answers.") == "The user prefers concise answers."
    assert summary_of("  padded line  \n") == "padded line"
    assert summary_of("x" * 200) == "x" * 200


def test_a_longer_text_gives_its_first_sentence_collapsed() -> None:
    text = "First   sentence\nspans two lines. Second sentence.\nThird."
    assert summary_of(text) == "First sentence spans two lines."
    assert summary_of("Version 2.3.0 shipped! Then more.\nAnd more.") == "Version 2.3.0 shipped!"


def test_a_long_sentence_is_cut_at_a_word_boundary() -> None:
    text = ("word " * 100).strip() + "."
    summary = summary_of(text)
    assert len(summary) <= 200 and summary.endswith("…")
    assert summary[:-1].split(" ") == ["word"] * len(summary[:-1].split(" "))
    unbroken = summary_of("x" * 300)
    assert unbroken == "x" * 199 + "…"


# --- the type maps ------------------------------------------------------------------


def test_type_maps_and_the_read_back_rule() -> None:
    assert [native_type(t) for t in ("instruction", "fact", "event", "task")] == [
        MemoryType.FEEDBACK, MemoryType.USER, MemoryType.PROJECT, MemoryType.PROJECT,
    ]
    assert read_back(MemoryType.PROJECT, {"cf_type": "task"}) == "task"
    assert read_back(MemoryType.PROJECT, {"cf_type": "bogus"}) == "event"
    assert read_back(MemoryType.PROJECT) == "event"
    assert read_back(MemoryType.FEEDBACK, None) == "instruction"
    assert read_back(MemoryType.USER, {}) == "fact"
    assert read_back(MemoryType.REFERENCE, {"cf_type": 3}) == "fact"
    assert natives_read_as("fact") == ("user", "reference")
    assert natives_read_as("task") == ()


# --- the extractive answer -------------------------------------------------------------

CONCISE = AnswerSource("The user prefers concise answers.", "The user prefers concise answers.", 0.9)
DEPLOY = AnswerSource(
    "Deployed billing API v2.3.0 to production on 2026-04-15.",
    "Deployed billing API v2.3.0 to production on 2026-04-15. The rollout took ten minutes!\n"
    "Rollback is `make rollback`.\n```\nkubectl rollout undo deploy/billing answers\n```\n"
    + "answers " * 80 + "\n- Answers from the billing API are cached for an hour.",
    0.6,
)


def test_the_answer_holds_the_sentences_that_share_the_querys_terms() -> None:
    assert compose_answer("How should I answer this user?", [CONCISE], "medium") == "The user prefers concise answers."


def test_sentences_are_ranked_by_score_times_overlap_and_deduplicated() -> None:
    answer = compose_answer("how are billing answers deployed", [DEPLOY, CONCISE], "long")
    sentences = [
        "The user prefers concise answers.",  # answer: 1/3 of the terms at 0.9 → 0.6 (once, though summary and body both say it)
        "Deployed billing API v2.3.0 to production on 2026-04-15.",  # billing, deploy: 2/3 at 0.6 → 0.5 (summary = body's first)
        "Answers from the billing API are cached for an hour.",  # answer, billing: 2/3 at 0.6 → 0.5, later in the memory
    ]
    assert answer == " ".join(sentences)
    assert "kubectl" not in answer and "answers answers" not in answer  # fenced code and long lines are dropped
    assert "Rollback" not in answer and "rollout took" not in answer  # no shared term


def test_the_response_length_bounds_the_answer() -> None:
    sources = [AnswerSource(f"Note {i}", f"The billing service handles invoices number {i} well.", 1 - i / 100) for i in range(12)]
    short = compose_answer("billing invoices", sources, "short")
    assert short == "The billing service handles invoices number 0 well."
    medium = compose_answer("billing invoices", sources, "medium")
    assert medium.count("billing") == 3 and len(medium) <= 600
    long = compose_answer("billing invoices", sources, "long")
    assert long.count("billing") == 8 and len(long) <= 1500
    huge = AnswerSource("big", "The billing " + "very " * 60 + "long sentence.", 1.0)
    cut = compose_answer("billing", [huge], "short")
    assert len(cut) <= 200 and cut.endswith("…") and cut.startswith("The billing very")


def test_without_overlap_the_top_sources_summary_answers() -> None:
    low = AnswerSource("Unrelated low", "Nothing in common here.", 0.2)
    top = AnswerSource("Deploys run through  the blue-green pipeline", "Body words.", 0.7)
    assert compose_answer("kubernetes frankfurt", [low, top], "short") == "Deploys run through the blue-green pipeline."
    assert compose_answer("what?", [top], "short") == "Deploys run through the blue-green pipeline."  # no query terms at all


def test_no_sources_no_answer_and_a_bad_length_is_refused() -> None:
    assert compose_answer("anything at all", [], "medium") == ""
    with pytest.raises(ValidationError):
        compose_answer("anything", [CONCISE], "huge")


def test_a_stamp_past_the_calendar_in_utc_reads_as_the_files_time() -> None:
    """A hand-written `created_at: "0001-01-01T00:00:00+14:00"` is year 0 in
    UTC: the file's mtime stands in (it raised OverflowError, a 500)."""
    mtime_ns = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
    for stamp in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"):
        assert cf_time(stamp, mtime_ns) == "2026-01-01T00:00:00.000Z"
    assert cf_time("2025-06-01T12:00:00+02:00", mtime_ns) == "2025-06-01T10:00:00.000Z"
