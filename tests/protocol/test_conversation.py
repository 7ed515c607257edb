"""The ordered conversation store shared by the session history and the test models."""

from __future__ import annotations

import pytest

from voicewire.protocol.conversation import OrderedItems


def _store(*ids: str) -> OrderedItems[str]:
    store: OrderedItems[str] = OrderedItems()
    for item_id in ids:
        store.append(item_id, item_id.upper())
    return store


def test_append_keeps_order_and_answers_what_it_follows() -> None:
    store: OrderedItems[str] = OrderedItems()
    assert store.append("a", "A") is None
    assert store.append("b", "B") == "a"
    assert store.values() == ["A", "B"]
    assert list(store) == ["A", "B"]
    assert store.ids() == ["a", "b"]
    assert store.last_id() == "b"
    assert store.last() == "B"
    assert len(store) == 2
    assert "a" in store and "z" not in store


def test_insert_after_a_held_item_and_at_the_end_otherwise() -> None:
    store = _store("a", "c")
    assert store.insert_after("b", "B", "a") == "a"
    assert store.ids() == ["a", "b", "c"]
    assert store.insert_after("d", "D", None) == "c"
    assert store.insert_after("e", "E", "unknown") == "d"
    assert store.ids() == ["a", "b", "c", "d", "e"]
    assert store.insert("root", "R", 0) is None
    assert store.ids()[0] == "root"
    assert store.index_of("b") == 2
    assert store.previous_id("b") == "a"
    assert store.previous_id("root") is None


def test_replace_keeps_the_place_and_delete_removes() -> None:
    store = _store("a", "b", "c")
    store.replace("b", "B2")
    assert store.values() == ["A", "B2", "C"]
    assert store.delete("b") == "B2"
    assert store.delete("b") is None
    assert store.ids() == ["a", "c"]
    assert store.get("b") is None and store.index_of("b") is None


def test_an_id_is_held_once() -> None:
    store = _store("a")
    with pytest.raises(KeyError):
        store.append("a", "again")
    with pytest.raises(KeyError):
        store.replace("missing", "X")
    assert store.values() == ["A"]


def test_empty_store() -> None:
    store: OrderedItems[str] = OrderedItems()
    assert store.last_id() is None and store.last() is None and store.values() == []
