"""The preview pane and the destination shown before sending."""

from __future__ import annotations

import io
from pathlib import Path

import filemaker as fm
from PIL import Image
from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, NameObject

from uploader_gui.cli.sandbox_profiles import sandbox_profiles
from uploader_gui.gui.main_window import MainWindow
from uploader_gui.gui.staging_model import COL_DEST, COL_NAME


def text_pdf(path: Path, pages: int = 3) -> Path:
    """A PDF with a black box on every page, so a render is not blank."""
    writer = PdfWriter()
    for _ in range(pages):
        page = writer.add_blank_page(612, 792)
        stream = DecodedStreamObject()
        stream.set_data(b"0 0 0 rg 100 100 400 500 re f")
        page[NameObject("/Contents")] = writer._add_object(stream)
    buf = io.BytesIO()
    writer.write(buf)
    return fm.write(path, buf.getvalue())


def dark_pixels(window: MainWindow) -> int:
    pixmap = window.preview.image.pixmap()
    image = pixmap.toImage()
    step = max(1, image.width() // 40)
    return sum(1 for x in range(0, image.width(), step) for y in range(0, image.height(), step)
               if image.pixelColor(x, y).lightness() < 60)


def test_preview_renders_pages_and_navigates(qtbot, validator, tmp_path: Path) -> None:
    w = MainWindow(validator=validator)
    qtbot.addWidget(w)
    w.show()
    w.resize(1200, 800)
    try:
        w.add_paths([text_pdf(tmp_path / "boxes.pdf")])
        qtbot.waitUntil(lambda: w.counts()["ready"] == 1, timeout=30_000)
        w.view.selectRow(0)
        qtbot.waitUntil(lambda: w.preview.page_count == 3, timeout=10_000)
        assert dark_pixels(w) > 20  # the black box was really rendered, not a blank page
        assert "page 1 of 3" in w.preview.caption.text()
        assert not w.preview.prev_button.isEnabled() and w.preview.next_button.isEnabled()
        w.preview.next_button.click()
        qtbot.waitUntil(lambda: w.preview.rendered_page == 1, timeout=10_000)
        assert "page 2 of 3" in w.preview.caption.text()
        # The page strip: one thumbnail per page, following the page shown; choosing one
        # goes there.
        strip = w.preview.strip
        qtbot.waitUntil(lambda: strip.isVisible() and strip.count() == 3, timeout=10_000)
        assert not strip.item(0).icon().isNull() and strip.currentRow() == 1
        strip.setCurrentRow(2)
        qtbot.waitUntil(lambda: w.preview.rendered_page == 2, timeout=10_000)
        assert "page 3 of 3" in w.preview.caption.text()
        assert strip.accessibleName() == "Pages"
    finally:
        w.shutdown()


def test_preview_of_a_photo_and_a_rejected_file(qtbot, validator, tmp_path: Path) -> None:
    w = MainWindow(validator=validator)
    qtbot.addWidget(w)
    w.show()
    try:
        img = Image.new("RGB", (300, 200), (0, 0, 0))
        photo = tmp_path / "dark.png"
        img.save(photo)
        w.add_paths([photo, fm.truncated_pdf(tmp_path / "cut.pdf")])
        qtbot.waitUntil(lambda: w.model.rowCount() == 2 and w.counts()["checking"] == 0,
                        timeout=30_000)
        rows = {w.model.index(r, COL_NAME).data(): r for r in range(2)}
        w.view.selectRow(rows["dark.png"])
        qtbot.waitUntil(lambda: not w.preview.image.pixmap().isNull(), timeout=10_000)
        assert dark_pixels(w) > 20
        w.view.selectRow(rows["cut.pdf"])
        qtbot.waitUntil(lambda: "not accepted" in w.preview.caption.text(), timeout=10_000)
        assert w.preview.image.pixmap().isNull()
    finally:
        w.shutdown()


def test_destination_is_shown_large_and_on_each_row(qtbot, validator, sandbox, tmp_path) -> None:
    w = MainWindow(validator=validator, profiles=sandbox_profiles(sandbox.url, sandbox.credentials))
    qtbot.addWidget(w)
    w.show()
    try:
        combo = w.upload_panel.profile_combo
        combo.setCurrentIndex(combo.findData("Sandbox Claros"))
        w.add_paths([fm.good_pdf(tmp_path / "a.pdf")])
        qtbot.waitUntil(lambda: w.counts()["ready"] == 1, timeout=30_000)
        # The patient is looked up: by name and date of birth, then the id.
        label = w.upload_panel.destination_label
        qtbot.waitUntil(lambda: label.text() ==
                        "→ Sandbox Claros: Ada Sandbox, born 1980-01-01 (patient 1001)", timeout=10_000)
        assert w.model.index(0, COL_DEST).data() == \
            "Ada Sandbox, born 1980-01-01 (patient 1001)"
        w.upload_panel.patient.setText("1003")
        assert w.model.index(0, COL_DEST).data() == "patient 1003"  # not looked up yet
        qtbot.waitUntil(lambda: w.model.index(0, COL_DEST).data() ==
                        "Cleo Sandbox, born 1999-12-31 (patient 1003)", timeout=10_000)
        combo.setCurrentIndex(combo.findData("Sandbox REDCap"))
        # REDCap: the profile's identity fields, read for that one record.
        qtbot.waitUntil(lambda: label.text() ==
                        "→ Sandbox REDCap: Ada Sandbox, born 1980-01-01 (record 1 / scan)", timeout=10_000)
        w.upload_panel.record.setText("77")
        qtbot.waitUntil(lambda: "has no record 77" in w.upload_panel.lookup_label.text(),
                        timeout=10_000)
        assert label.text() == "→ Sandbox REDCap: record 77 / scan"
        assert not w.upload_panel.upload_button.isEnabled()
        label_font = w.upload_panel.destination_label.font()
        assert label_font.pointSizeF() > w.font().pointSizeF() and label_font.bold()
    finally:
        w.shutdown()


def test_claros_patient_picker_and_recent_destinations(qtbot, validator, sandbox, tmp_path,
                                                       app_home) -> None:
    from uploader_gui.core.recent import load_recent

    w = MainWindow(validator=validator, profiles=sandbox_profiles(sandbox.url, sandbox.credentials))
    w.uploads.confirm = lambda plan: {q.id: True for q in plan.questions}
    qtbot.addWidget(w)
    w.show()
    try:
        combo = w.upload_panel.profile_combo
        combo.setCurrentIndex(combo.findData("Sandbox Claros"))
        assert w.upload_panel.find_patient_button.isVisible()
        offered = []

        def pick(title, label, items):
            offered.extend(items)
            return next(i for i in items if i.endswith("(1003)")), True

        w.profiles.pick_from_list = pick
        w.upload_panel.find_patient_button.click()
        qtbot.waitUntil(lambda: w.upload_panel.patient.text() == "1003", timeout=10_000)
        assert "Ada Sandbox, born 1980-01-01 (1001)" in offered
        w.add_paths([fm.good_pdf(tmp_path / "to-1003.pdf")])
        qtbot.waitUntil(lambda: w.counts()["ready"] == 1, timeout=30_000)
        qtbot.waitUntil(w.upload_panel.upload_button.isEnabled, timeout=30_000)  # the lookup
        w.upload_panel.upload_button.click()
        qtbot.waitUntil(lambda: w.counts()["sent"] == 1, timeout=30_000)
        recent = load_recent("Sandbox Claros")
        assert recent[0]["id"] == "1003" and recent[0]["label"].startswith("Cleo")
        assert w.upload_panel._recent.stringList()[0] == "1003"
        [stored] = [r for r in sandbox.received("claros") if r["filename"] == "to-1003.pdf"]
        assert stored["patient_id"] == 1003
    finally:
        w.shutdown()


def test_combine_images_in_the_order_shown(qtbot, validator, sandbox, tmp_path, app_home) -> None:
    from pypdf import PdfReader
    from PySide6.QtCore import QItemSelectionModel

    from uploader_gui.core.history import HistoryStore

    colours = {"red.png": (255, 0, 0), "green.png": (0, 255, 0), "blue.png": (0, 0, 255)}
    paths = []
    for name, rgb in colours.items():
        Image.new("RGB", (60, 40), rgb).save(tmp_path / name)
        paths.append(tmp_path / name)
    before = {p: p.read_bytes() for p in paths}
    w = MainWindow(validator=validator, profiles=sandbox_profiles(sandbox.url, sandbox.credentials))
    w.uploads.confirm = lambda plan: {q.id: True for q in plan.questions}
    qtbot.addWidget(w)
    w.show()
    try:
        combo = w.upload_panel.profile_combo
        combo.setCurrentIndex(combo.findData("Sandbox Claros"))
        w.add_paths(paths)
        qtbot.waitUntil(lambda: w.counts()["ready"] == 3, timeout=30_000)
        order = [w.model.index(r, COL_NAME).data() for r in range(3)]
        blue = order.index("blue.png")
        w.view.selectRow(blue)
        for _ in range(blue):
            w.move_selected(-1)  # blue to the top
        shown = [w.model.index(r, COL_NAME).data() for r in range(3)]
        assert shown[0] == "blue.png"
        sel = w.view.selectionModel()
        for r in range(3):
            sel.select(w.model.index(r, 0), QItemSelectionModel.SelectionFlag.Select
                       | QItemSelectionModel.SelectionFlag.Rows)
        assert w.combine_button.isEnabled()
        w.combine_button.click()
        qtbot.waitUntil(lambda: w.model.rowCount() == 1 and w.counts()["ready"] == 1,
                        timeout=30_000)
        combined = w.model.items()[0]
        assert combined.name == "blue and 2 more.pdf" and len(combined.sources) == 3
        reader = PdfReader(combined.path)
        firsts = [page.images[0].image.convert("RGB").getpixel((5, 5)) for page in reader.pages]
        expected = [colours[n] for n in shown]
        assert [max(range(3), key=lambda i, c=c: c[i]) for c in firsts] == \
               [max(range(3), key=lambda i, c=c: c[i]) for c in expected]
        qtbot.waitUntil(w.upload_panel.upload_button.isEnabled, timeout=30_000)  # the lookup
        w.upload_panel.upload_button.click()
        qtbot.waitUntil(lambda: w.counts()["sent"] == 1, timeout=30_000)
        store = HistoryStore()
        [job] = [j for j in store.jobs() if j.name == "blue and 2 more.pdf"]
        assert [Path(s["path"]).name for s in job.sources] == shown
        store.close()
        assert not combined.path.exists()  # the temporary PDF is gone after sending
        assert {p: p.read_bytes() for p in paths} == before  # the images are untouched
    finally:
        w.shutdown()
