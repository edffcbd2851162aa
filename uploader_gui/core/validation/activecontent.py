"""JavaScript and Launch actions where a viewer would run them: found, or removed.

Neither pikepdf nor pypdf has a detector, so we walk, on a :class:`pikepdf.Pdf`:
the catalog's /OpenAction and /AA, the /Names/JavaScript tree, each page's /AA
and its annotations' /A and /AA, the AcroForm fields (scripts that run when a
person clicks or types in a field are active content too) and their XFA
scripts, and the outline items. Every walk keeps a set of visited objects and
an object budget, so loops end. A reference to a missing object reads as null,
as the PDF specification says (qpdf does this for us).

The same walk, with ``remove=True``, deletes what it finds: that is how the
copy "without the scripts" is made.
"""

from __future__ import annotations

from typing import Any

from uploader_gui.core.validation.result import MAX_PAGES_WALKED, MAX_WALK_OBJECTS

_ACTIVE_ACTIONS = {"/JavaScript": "JavaScript", "/Launch": "a command that starts a program"}
#: Action types that have no /JS entry (links, page jumps): their /JS is not looked up,
#: which keeps a page with tens of thousands of links quick. Rendition may carry /JS.
_NO_SCRIPT_ACTIONS = frozenset({"/URI", "/GoTo", "/GoToR", "/GoToE", "/Named", "/Thread",
                                "/SubmitForm", "/ResetForm", "/Hide", "/SetOCGState"})


class WalkBudgetExceeded(Exception):
    """The document has more objects than the walk may visit."""


class ActiveContent:
    """Walk one document; :attr:`found` lists what runs (one word per finding)."""

    def __init__(self, pdf: Any, remove: bool = False) -> None:
        self.pdf = pdf
        self.remove = remove
        self.found: list[str] = []
        self._seen: set[tuple[int, int]] = set()
        #: Actions already judged, by object: a shared action is judged once and
        #: removed from every place that refers to it.
        self._verdicts: dict[tuple[int, int], str | None] = {}
        self._budget = MAX_WALK_OBJECTS

    # ------------------------------------------------------------- plumbing

    def _visit(self, obj: Any) -> bool:
        """Count one object against the budget; False when it was already seen."""
        self._budget -= 1
        if self._budget < 0:
            raise WalkBudgetExceeded
        objgen = getattr(obj, "objgen", (0, 0))
        if objgen != (0, 0):
            if objgen in self._seen:
                return False
            self._seen.add(objgen)
        return True

    def _hit(self, what: str) -> bool:
        """Record a finding; True when the walk may stop (finding, not removing)."""
        self.found.append(what)
        return not self.remove

    @staticmethod
    def _dict(obj: Any) -> Any:
        import pikepdf

        return obj if isinstance(obj, pikepdf.Dictionary) else None

    # ------------------------------------------------------------- actions

    def _active(self, obj: Any, depth: int = 0) -> str | None:
        """What an action (with its /Next chain) would run, or None."""
        import pikepdf

        if depth > 64 or not isinstance(obj, pikepdf.Dictionary):
            return None
        objgen = obj.objgen
        if objgen != (0, 0):
            if objgen in self._verdicts:
                return self._verdicts[objgen]
            self._verdicts[objgen] = None  # a /Next loop ends here
        verdict = self._judge(obj, depth)
        if objgen != (0, 0):
            self._verdicts[objgen] = verdict
        return verdict

    def _judge(self, obj: Any, depth: int) -> str | None:
        import pikepdf

        self._budget -= 1
        if self._budget < 0:
            raise WalkBudgetExceeded
        kind = obj.get("/S")
        name = str(kind) if kind is not None else ""
        if name in _ACTIVE_ACTIONS:
            return _ACTIVE_ACTIONS[name]
        if name not in _NO_SCRIPT_ACTIONS and obj.get("/JS") is not None:
            return "JavaScript"  # untyped, or a type that may carry /JS (Rendition)
        nxt = obj.get("/Next")
        if nxt is None:
            return None
        items = list(nxt) if isinstance(nxt, pikepdf.Array) else [nxt]
        for item in items:
            hit = self._active(item, depth + 1)
            if hit:
                return hit
        return None

    def _action_at(self, holder: Any, key: str) -> bool:
        """Check ``holder[key]`` as an action; True to stop the walk."""
        if self._dict(holder) is None:
            return False
        hit = self._active(holder.get(key))
        if not hit:
            return False
        if self.remove:
            del holder[key]
        return self._hit(hit)

    def _aa_at(self, holder: Any) -> bool:
        """Check ``holder[/AA]`` (additional actions, by trigger); True to stop."""
        if self._dict(holder) is None:
            return False
        aa = self._dict(holder.get("/AA"))
        if aa is None or not self._visit(aa):
            return False
        for trigger in list(aa.keys()):
            if self._action_at(aa, trigger):
                return True
        if self.remove and len(aa.keys()) == 0:
            del holder["/AA"]  # every trigger held a script: no empty dictionary left behind
        return False

    # ------------------------------------------------------------- the walk

    def scan(self) -> str | None:
        """The first thing found (all of them when removing); None when clean or too big."""
        try:
            self._scan()
        except WalkBudgetExceeded:
            if not self.found:
                return None
        return self.found[0] if self.found else None

    def _scan(self) -> None:
        root = self._dict(self.pdf.Root)
        if root is None:
            return
        if self._action_at(root, "/OpenAction") or self._aa_at(root):
            return
        if self._names(root):
            return
        for index, page in enumerate(self.pdf.pages):
            if index >= MAX_PAGES_WALKED:
                break
            if self._page(page.obj):
                return
        if self._acroform(root):
            return
        self._outlines(root.get("/Outlines"))

    def _names(self, root: Any) -> bool:
        import pikepdf

        names = self._dict(root.get("/Names"))
        if names is None:
            return False
        tree = self._dict(names.get("/JavaScript"))
        if tree is None:
            return False
        entries = tree.get("/Names")
        kids = tree.get("/Kids")
        if (isinstance(entries, pikepdf.Array) and len(entries)) or (
            isinstance(kids, pikepdf.Array) and len(kids)
        ):
            if self.remove:
                del names["/JavaScript"]
            return self._hit("JavaScript")
        return False

    def _page(self, page: Any) -> bool:
        import pikepdf

        if self._aa_at(page):
            return True
        annots = page.get("/Annots")
        if not isinstance(annots, pikepdf.Array):
            return False
        for annot in annots:
            if not isinstance(annot, pikepdf.Dictionary) or not self._visit(annot):
                continue
            if "/A" in annot and self._action_at(annot, "/A"):
                return True
            if "/AA" in annot and self._aa_at(annot):
                return True
        return False

    def _acroform(self, root: Any) -> bool:
        form = self._dict(root.get("/AcroForm"))
        if form is None:
            return False
        xfa = form.get("/XFA")
        if xfa is not None and _xfa_has_script(xfa):
            if self.remove:
                del form["/XFA"]
                if "/NeedsRendering" in root:
                    del root["/NeedsRendering"]
            if self._hit("JavaScript"):
                return True
        return self._fields(form.get("/Fields"))

    def _fields(self, fields: Any, depth: int = 0) -> bool:
        import pikepdf

        if depth > 64 or not isinstance(fields, pikepdf.Array):
            return False
        for item in list(fields):
            item = self._dict(item)
            if item is None:
                continue
            # A field merged with its widget is also a page annotation, already seen:
            # look at its actions all the same (the set only guards the descent).
            if self._action_at(item, "/A") or self._aa_at(item):
                return True
            if not self._visit(item):
                continue
            if self._fields(item.get("/Kids"), depth + 1):
                return True
        return False

    def _outlines(self, outlines: Any) -> bool:
        node = self._dict(outlines)
        if node is None:
            return False
        stack = [node.get("/First")]
        while stack:
            item = self._dict(stack.pop())
            if item is None or not self._visit(item):
                continue
            if self._action_at(item, "/A"):
                return True
            stack.append(item.get("/Next"))
            stack.append(item.get("/First"))
        return False


def _xfa_has_script(xfa: Any) -> bool:
    """XFA forms carry their scripts in XML packets: look for a <script> element."""
    import pikepdf

    parts = list(xfa) if isinstance(xfa, pikepdf.Array) else [xfa]
    for part in parts:
        if isinstance(part, pikepdf.Stream):
            try:
                data = part.read_bytes()
            except pikepdf.PdfError:
                return True  # an unreadable packet cannot be shown to be harmless
            if b"<script" in data.lower():
                return True
    return False


def find_active_content(pdf: Any) -> str | None:
    """What in this document would run on the receiving computer, in words; None if nothing."""
    return ActiveContent(pdf).scan()


def remove_active_content(pdf: Any) -> int:
    """Delete every script and launch action the walk reaches; how many were removed."""
    walker = ActiveContent(pdf, remove=True)
    walker.scan()
    return len(walker.found)
