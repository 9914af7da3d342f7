"""The open-domain fact catalog: its size, its wording, its note form and its two splits."""
import collections
import random
import re

import pytest

from memgpt.training import relations as R


def test_catalog_is_large_and_sound():
    assert len(R.RELATIONS) >= 150
    assert R.validate() == []
    for r in R.RELATIONS:
        assert len(set(r.statements)) >= 4, r.name
        assert len(set(r.questions)) >= 3, r.name
    domains = collections.Counter(r.domain for r in R.RELATIONS)
    assert set(domains) == set(R.DOMAINS)
    assert all(n >= 5 for n in domains.values()), domains


def test_validate_finds_broken_relations():
    bad = R.Relation("user thing", "home", "user thing", "word", ("I have {v}.",) * 4, ("What is it, {v}?", "a", "b"),
                     "It's {v}.")
    problems = R.validate([bad])
    assert any("statements" in p for p in problems)
    assert any("gives the value away" in p for p in problems)


def test_user_facts_are_first_person_and_documents_are_not():
    """A user states a fact about themself ("I'm allergic to ...", "My rent is ..."), now and
    then implicitly ("The gate code is 4417."); documents never speak as "I"."""
    first = re.compile(r"\b(I|I'm|I've|I'd|my|My|our|Our|we|We|we're|We're|me|us)\b")
    for r in R.RELATIONS:
        if r.is_user:
            assert sum(bool(first.search(s)) for s in r.statements) >= 2, r.name
        else:
            assert not any(re.search(r"\b(I|I'm|my|My)\b", s) for s in r.statements), r.name


@pytest.mark.parametrize("split", ["train", "test"])
def test_notes_parse_and_statements_hold_their_values(split):
    rng = random.Random(11)
    for r in R.RELATIONS:
        for _ in range(3):
            f = R.draw_fact(rng, split, r)
            key, value = R.parse_note(f.note)
            assert (key, value) == (f.key, f.value)
            assert "\n" not in f.note and ": " not in key
            assert r in R.relations_of_key(key)
            for v in f.values:
                assert v in f.statement and v in f.answer, (r.name, v, f.statement)
                if len(v) >= 4:  # a question in other words never gives the value away
                    assert all(not re.search(rf"\b{re.escape(v)}\b", q) for q in f.questions), (r.name, v)


def test_user_keys_are_exact_and_document_keys_end_with_the_relation():
    assert [r.name for r in R.relations_of_key("user allergy")] == ["user allergy"]
    assert R.relations_of_key("user no such thing") == []
    assert [r.name for r in R.relations_of_key("north archive room door code")] == ["room door code"]
    assert R.relations_of_key("door code") == []
    with pytest.raises(ValueError):
        R.parse_note("no separator here")


def test_heldout_relation_types():
    held = R.HELDOUT
    assert len(held) >= 30
    assert held == R._choose_heldout(R.RELATIONS)  # fixed by the catalog, not by any rng
    by_domain = collections.Counter(R.BY_NAME[n].domain for n in held)
    assert set(by_domain) == set(R.DOMAINS), "every domain has held-out types"
    assert not held & R.BENCH_CHAT_RELATIONS
    assert {r.name for r in R.relations_for("train")} == {r.name for r in R.RELATIONS} - held
    assert {r.name for r in R.relations_for("test", "heldout")} == held
    assert {r.name for r in R.relations_for("test")} == {r.name for r in R.RELATIONS}
    with pytest.raises(ValueError):
        R.relations_for("train", "all")
    rng = random.Random(3)
    drawn = {R.draw_fact(rng, "train").relation.name for _ in range(3000)}
    assert not drawn & held
    assert len(drawn) > 0.9 * len(R.TRAIN_RELATIONS)


def test_value_splits_are_disjoint():
    for kind in R.VALUE_KINDS:
        if kind in R.CLOSED_KINDS:
            continue
        rng = random.Random(kind)
        train = {R.draw_value(kind, rng, "train") for _ in range(100)}
        test = {R.draw_value(kind, rng, "test") for _ in range(100)}
        assert not train & test, (kind, sorted(train & test)[:5])
        assert all(R.split_ok(v, "train") for v in train) and all(R.split_ok(v, "test") for v in test)
    for kind in R.SUBJECT_KINDS:
        rng = random.Random(kind)
        train = {R.draw_subject(kind, rng, "train").bare for _ in range(100)}
        test = {R.draw_subject(kind, rng, "test").bare for _ in range(100)}
        assert not train & test, kind


def test_value_pools_are_large():
    for kind in ("first_name", "full_name", "city", "address", "phone", "email", "date", "time", "amount",
                 "digits6", "password", "uuid", "alnum", "word", "allergen", "job", "food", "company"):
        rng = random.Random(kind)
        assert len({R.draw_value(kind, rng, "train") for _ in range(400)}) > 150, kind
    assert all(len(R.pool(p, "test")) >= 3 for p in R.POOLS), "every finite pool has test values"
    # few relations rest on sets too small to split by value
    assert sum(r.kind in R.CLOSED_KINDS for r in R.RELATIONS) <= 8


def test_multi_valued_facts_are_one_note():
    rng = random.Random(5)
    sons = R.BY_NAME["user sons"]
    f = R.draw_fact(rng, "train", sons)
    assert 2 <= len(f.values) <= 3 and f.note == "user sons: " + ", ".join(f.values)
    assert R.join_natural(list(f.values)) in f.statement or all(v in f.statement for v in f.values)
    u = R.update_of(f, rng, "train")
    assert u.key == f.key and u.is_update
    if len(f.values) < 3:  # another son joins the list
        assert u.values[: len(f.values)] == f.values and len(u.values) == len(f.values) + 1


def test_updates_keep_the_key_and_change_the_value():
    rng = random.Random(8)
    for r in R.RELATIONS:
        f = R.draw_fact(rng, "train", r)
        u = R.update_of(f, rng, "train")
        assert u.key == f.key and u.values != f.values
        assert all(v in u.statement for v in u.values)
        assert u.statement != f.statement
    city = R.BY_NAME["user city"]
    seen = {R.update_of(R.draw_fact(rng, "train", city), rng, "train").statement.split(" ")[0] for _ in range(60)}
    assert "Actually," in seen  # "Actually, I moved to Oslo last month."


def test_draws_are_deterministic():
    a = [R.draw_fact(random.Random(42), "train").note for _ in range(3)]
    b = [R.draw_fact(random.Random(42), "train").note for _ in range(3)]
    assert a == b
    rng1, rng2 = random.Random(1), random.Random(2)
    assert [R.draw_fact(rng1, "test").note for _ in range(5)] != [R.draw_fact(rng2, "test").note for _ in range(5)]


def test_articles():
    assert R.with_article("architect") == "an architect"
    assert R.with_article("nurse") == "a nurse"
    assert R.with_article("UX designer") == "a UX designer"
    assert R.with_article("umbrella") == "an umbrella"
