from __future__ import annotations

import re

import pytest
from test_durable_support import Counter, Lab, Plain

from workerlab.durable import DurableObjectId
from workerlab.durable.store import class_dir, object_file_name, object_id_of

pytest_plugins = ["test_durable_support"]

HEX64 = re.compile(r"[0-9a-f]{64}")


def test_id_from_name_is_64_hex_and_the_same_for_the_same_name(lab: Lab) -> None:
    ns = lab.namespace(Counter)
    first, again, other = ns.idFromName("room"), ns.idFromName("room"), ns.idFromName("other")
    assert HEX64.fullmatch(first.toString())
    assert first == again and first.equals(again) and hash(first) == hash(again)
    assert first != other and not first.equals(other)
    assert first.name == "room" and str(first) == first.toString()


def test_id_from_name_is_stable_across_engines_and_differs_between_namespaces(make_lab) -> None:
    one, two = make_lab(), make_lab()
    assert one.namespace(Counter).idFromName("x") == two.namespace(Counter).idFromName("x")
    assert one.namespace(Counter).idFromName("x") != one.namespace(Plain).idFromName("x")
    other_worker = one.namespace(Counter, worker="elsewhere")
    assert other_worker.idFromName("x") != one.namespace(Counter).idFromName("x")


def test_unique_ids_are_new_each_time_and_have_no_name(lab: Lab) -> None:
    ns = lab.namespace(Counter)
    ids = {ns.newUniqueId().toString() for _ in range(50)}
    assert len(ids) == 50
    assert ns.newUniqueId().name is None
    assert ns.newUniqueId({"jurisdiction": "eu"}).name is None


def test_id_from_string_round_trips_and_forgets_the_name(lab: Lab) -> None:
    ns = lab.namespace(Counter)
    named = ns.idFromName("room")
    again = ns.idFromString(named.toString())
    assert again == named and again.name is None
    assert ns.idFromString(named.toString().upper()) == named


@pytest.mark.parametrize("text", ["", "abc", "g" * 64, "a" * 63, "a" * 65, "../" * 30])
def test_id_from_string_refuses_what_is_not_64_hex_digits(lab: Lab, text: str) -> None:
    with pytest.raises(TypeError, match=r"Invalid Durable Object ID.*64 hex digits"):
        lab.namespace(Counter).idFromString(text)


def test_id_from_string_refuses_an_id_of_another_namespace(lab: Lab) -> None:
    foreign = lab.namespace(Plain).idFromName("room").toString()
    with pytest.raises(TypeError, match="not made by this namespace"):
        lab.namespace(Counter).idFromString(foreign)
    with pytest.raises(TypeError, match="expects the id as a str"):
        lab.namespace(Counter).idFromString(42)


def test_get_refuses_ids_of_another_namespace_and_non_ids(lab: Lab) -> None:
    counters, plains = lab.namespace(Counter), lab.namespace(Plain)
    with pytest.raises(TypeError, match="made by another namespace"):
        counters.get(plains.idFromName("x"))
    with pytest.raises(TypeError, match=r"expects a DurableObjectId.*getByName"):
        counters.get("room")


def test_stub_carries_the_id_and_its_name(lab: Lab) -> None:
    ns = lab.namespace(Counter)
    stub = ns.getByName("room")
    assert stub.id == ns.idFromName("room") and stub.name == "room"
    assert ns.get(ns.newUniqueId()).name is None
    assert ns.jurisdiction("eu") is ns


def test_snake_case_names_fail_with_cloudflares_spelling(lab: Lab) -> None:
    ns = lab.namespace(Counter)
    with pytest.raises(AttributeError, match="Cloudflare spells it 'idFromName'"):
        ns.id_from_name("x")  # type: ignore[attr-defined]
    with pytest.raises(AttributeError, match="'toString'"):
        ns.idFromName("x").to_string()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "object_id", ["a" * 64, "../../etc/passwd", "", "x" * 5000, "con", "a/b\\c", "\u00e9\x00"]
)
def test_any_id_maps_to_a_file_name_inside_the_class_folder(tmp_path, object_id: str) -> None:
    folder = class_dir(tmp_path, "Counter")
    path = (folder / object_file_name(object_id)).resolve()
    assert path.parent == folder.resolve()
    assert len(path.name) < 100
    assert object_id_of(path.name) == (object_id if HEX64.fullmatch(object_id) else None)


def test_class_names_of_any_shape_stay_under_the_persist_folder(tmp_path) -> None:
    root = (tmp_path / "durable_objects").resolve()
    for name in ("Counter", "../evil", "a/b", ""):
        assert class_dir(tmp_path, name).resolve().parent == root


def test_ids_compare_by_value_only_with_ids() -> None:
    one = DurableObjectId("a" * 64, "x")
    assert one == DurableObjectId("a" * 64) and one != "a" * 64
    assert "DurableObjectId" in repr(one)
