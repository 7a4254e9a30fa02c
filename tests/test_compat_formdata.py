from __future__ import annotations

import pytest

from workerlab.compat.formdata import DEFAULT_BLOB_FILENAME, Blob, File, FormData


async def test_blob_joins_parts_and_reports_size_and_type() -> None:
    blob = Blob(["héllo ", b"world", Blob(["!"])], type="Text/Plain")
    assert blob.size == len("héllo world!".encode())
    assert blob.type == "text/plain"
    assert blob.content_type == "text/plain"
    assert await blob.text() == "héllo world!"
    assert await blob.bytes() == "héllo world!".encode()


async def test_blob_single_part_and_content_type_keyword() -> None:
    assert await Blob("abc").text() == "abc"
    assert Blob(b"x", content_type="image/png").type == "image/png"
    inherited = Blob(Blob(b"x", "image/png"))
    assert inherited.type == "image/png"
    assert Blob(b"x", type="bad\u0100type").type == ""
    assert Blob().size == 0


async def test_blob_slice_and_native_endings() -> None:
    blob = Blob(b"0123456789")
    assert await blob.slice(2, 5).bytes() == b"234"
    assert await blob.slice(-3).bytes() == b"789"
    assert await Blob(["a\r\nb\rc"], endings="native").text() == "a\nb\nc"
    assert await Blob(["a\r\nb"]).text() == "a\r\nb"


def test_blob_rejects_unknown_parts() -> None:
    with pytest.raises(TypeError, match="Blob parts must be str, bytes or Blob, got int"):
        Blob([1])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="got int"):
        Blob(5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="endings"):
        Blob("a", endings="crlf")


async def test_file_has_name_type_and_content() -> None:
    file = File([b"a,b\n1,2\n"], "data.csv", type="text/csv")
    assert (file.name, file.type, file.size) == ("data.csv", "text/csv", 8)
    assert await file.text() == "a,b\n1,2\n"
    assert File("x", filename="n.txt", content_type="text/plain").name == "n.txt"
    assert File("x", "n", last_modified=1234).last_modified == 1234
    with pytest.raises(TypeError, match="File needs a name"):
        File("x")


def test_formdata_append_get_get_all_has_delete_set() -> None:
    form = FormData({"a": "1"})
    form.append("a", "2")
    form.append("b", "3")
    assert form.get("a") == "1"
    assert form["a"] == "1"
    assert form.get_all("a") == ["1", "2"]
    assert form.has("b") and "b" in form
    assert form.get("missing") is None
    assert form.get("missing", "d") == "d"
    assert form.get_all("missing") == []
    with pytest.raises(KeyError):
        form["missing"]
    form.set("a", "only")
    assert form.items() == [("a", "only"), ("b", "3")]
    form["c"] = "4"
    form.delete("b")
    assert form.keys() == ["a", "c"]
    del form["c"]
    assert len(form) == 1
    assert list(form) == ["a"]
    with pytest.raises(KeyError):
        del form["c"]


def test_formdata_keys_repeat_and_len_counts_entries() -> None:
    form = FormData([("tag", "x"), ("tag", "y")])
    assert form.keys() == ["tag", "tag"]
    assert form.values() == ["x", "y"]
    assert len(form) == 2


def test_formdata_blob_values_become_files() -> None:
    form = FormData()
    form.append("raw", Blob(b"1", "text/plain"))
    form.append("named", Blob(b"2"), filename="two.bin")
    form.append("renamed", File(b"3", "old.txt", "text/plain"), "new.txt")
    form.set("kept", File(b"4", "four.txt"))
    raw, named, renamed, kept = (form.get(k) for k in ("raw", "named", "renamed", "kept"))
    assert isinstance(raw, File) and raw.name == DEFAULT_BLOB_FILENAME and raw.type == "text/plain"
    assert isinstance(named, File) and named.name == "two.bin"
    assert isinstance(renamed, File) and (renamed.name, renamed.type) == ("new.txt", "text/plain")
    assert isinstance(kept, File) and kept.name == "four.txt"


def test_formdata_rejects_bad_values() -> None:
    form = FormData()
    with pytest.raises(TypeError, match="FormData entry 'n': values must be str, Blob or File, got int"):
        form.append("n", 5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="a filename can only be given with a Blob or File"):
        form.append("n", "text", filename="f.txt")
    with pytest.raises(TypeError, match="names must be str"):
        form.append(1, "x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="pair"):
        FormData([("a",)])  # type: ignore[list-item]


def test_formdata_copy_is_independent() -> None:
    original = FormData({"a": "1"})
    copy = FormData(original)
    copy.append("b", "2")
    assert original.keys() == ["a"]
