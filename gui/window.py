"""The editor's main window: graph canvas, node library, params, preview, log, run controls."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PyQt6.QtCore import QRectF, Qt, QTimer
from PyQt6.QtGui import QAction, QCloseEvent, QKeySequence, QShortcut
from PyQt6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QToolBar,
    QWidget,
)

from nodeflow.errors import GraphValidationError, NodeflowError, Problem
from nodeflow.graph import GraphSpec
from nodeflow.gui.canvas import EditorGraph
from nodeflow.gui.library_view import LibraryPanel
from nodeflow.gui.log_view import LogPanel
from nodeflow.gui.palette import EditorNode, Palette
from nodeflow.gui.params_form import ParamPanel
from nodeflow.gui.preview_view import PreviewPanel
from nodeflow.gui.progress_view import ProgressPanel
from nodeflow.gui.runner import Runner
from nodeflow.gui.scene_io import SceneState, load_spec, scene_to_spec
from nodeflow.registry import Registry, default_registry
from nodeflow.session import Session
from nodeflow.validate import validate_graph

FILE_FILTER = "nodeflow graphs (*.json);;All files (*)"


class EditorWindow(QMainWindow):
    """One graph document. ``graph`` is the NodeGraphQt scene, ``runner`` the run controller."""

    def __init__(self, registry: Registry | None = None, session: Session | None = None,
                 output_dir: str | Path | None = None):
        super().__init__()
        self.registry = registry if registry is not None else default_registry()
        self.palette = Palette.from_registry(self.registry)
        self.graph = EditorGraph(self.palette, parent=self)
        self.state = SceneState()
        self.path: Path | None = None
        self.output_dir = Path(output_dir) if output_dir is not None else None
        """Where relative output paths go; default: the graph file's folder."""
        self.ask_before_discard = QApplication.platformName() != "offscreen"
        self.runner = Runner(self.registry, session, parent=self)

        self.log = LogPanel()
        self.preview = PreviewPanel()
        self.progress = ProgressPanel()
        self.params = ParamPanel(self.graph, self.base_dir)
        self.library = LibraryPanel(self.palette)
        self.frames_edit = QLineEdit()
        self.frames_edit.setPlaceholderText("all frames")
        self.frames_edit.setToolTip("frames to run: N, START:STOP or START:STOP:STEP (empty: all)")
        self.frames_edit.setMaximumWidth(110)

        self.setCentralWidget(self.graph.widget)
        library = self._dock("Nodes", self.library, Qt.DockWidgetArea.LeftDockWidgetArea)
        params = self._dock("Params", self.params, Qt.DockWidgetArea.RightDockWidgetArea)
        preview = self._dock("Preview", self.preview, Qt.DockWidgetArea.RightDockWidgetArea)
        log = self._dock("Log", self.log, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.resizeDocks([library, params], [220, 360], Qt.Orientation.Horizontal)
        self.resizeDocks([params, preview, log], [480, 300, 180], Qt.Orientation.Vertical)
        self._build_actions()
        self._connect()
        self._saved_text = self.current_spec().dumps()
        self.resize(1400, 900)
        self._update_title()
        if self.registry.failures:
            for failure in self.registry.failures:
                self.log.write(f"skipped node package {failure.name}: {failure.error}", "warning")

    # -- layout --------------------------------------------------------------------------------
    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _action(self, text: str, slot: Any, shortcut: str | QKeySequence.StandardKey | None = None,
                tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setStatusTip(tip or text)
        action.triggered.connect(lambda _checked=False: slot())
        return action

    def _build_actions(self) -> None:
        keys = QKeySequence.StandardKey
        self.new_action = self._action("&New", self.new_graph, keys.New)
        self.open_action = self._action("&Open…", self.open_dialog, keys.Open)
        self.save_action = self._action("&Save", self.save, keys.Save)
        self.save_as_action = self._action("Save &As…", self.save_as_dialog, keys.SaveAs)
        quit_action = self._action("&Quit", self.close, keys.Quit)
        stack = self.graph.undo_stack()
        undo = stack.createUndoAction(self, "&Undo")
        undo.setShortcut(QKeySequence(keys.Undo))
        redo = stack.createRedoAction(self, "&Redo")
        redo.setShortcut(QKeySequence(keys.Redo))
        copy = self._action("&Copy", self.graph.copy_nodes, keys.Copy)
        paste = self._action("&Paste", self.graph.paste_nodes, keys.Paste)
        delete = self._action("&Delete", self.delete_selected, keys.Delete)
        delete.setShortcuts([QKeySequence(keys.Delete), QKeySequence("Backspace")])
        select_all = self._action("Select &All", self.graph.select_all, keys.SelectAll)
        fit = self._action("&Fit View", self.graph.fit_to_selection, "F")
        self.run_action = self._action("&Run", self.run_graph, "F5",
                                       "run the graph (only what changed since the last run)")
        self.cancel_action = self._action("&Cancel", self.cancel_run, "Shift+F5", "stop the running graph")
        self.cancel_action.setEnabled(False)
        validate = self._action("&Validate", self.validate, "F7", "list every problem of the graph")

        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        for a in (self.new_action, self.open_action, self.save_action, self.save_as_action):
            file_menu.addAction(a)
        file_menu.addSeparator()
        file_menu.addAction(quit_action)
        edit_menu = bar.addMenu("&Edit")
        for a in (undo, redo, copy, paste, delete, select_all, fit):
            edit_menu.addAction(a)
        graph_menu = bar.addMenu("&Graph")
        for a in (self.run_action, self.cancel_action, validate):
            graph_menu.addAction(a)
        add_menu = graph_menu.addMenu("&Add Node")
        for category, names in self.palette.categories().items():
            sub = add_menu.addMenu(category)
            for name in names:
                sub.addAction(self._action(name, lambda name=name: self.add_node(name),
                                           tip=self.palette.classes[name].node_cls.summary()))

        search = QShortcut(QKeySequence("Tab"), self.graph.viewer())
        search.setContext(Qt.ShortcutContext.WidgetShortcut)
        search.activated.connect(self.toggle_node_search)

        tools = QToolBar("Run")
        tools.setObjectName("Run")
        tools.addAction(self.run_action)
        tools.addAction(self.cancel_action)
        tools.addSeparator()
        tools.addWidget(QLabel(" frames "))
        tools.addWidget(self.frames_edit)
        tools.addSeparator()
        tools.addWidget(self.progress)
        self.addToolBar(tools)
        self.statusBar()

    def _connect(self) -> None:
        g = self.graph
        # The scene's signal also covers selections made in code (add_node, paste, undo).
        self._selection_timer = QTimer(self)
        self._selection_timer.setSingleShot(True)
        self._selection_timer.setInterval(0)
        self._selection_timer.timeout.connect(self._selection_changed)
        g.scene().selectionChanged.connect(self._selection_timer.start)
        g.nodes_deleted.connect(self._nodes_deleted)
        g.connection_refused.connect(self._connection_refused)
        g.node_renamed.connect(self._renamed)
        # Bound methods, not lambdas: Qt drops these connections when the window goes away.
        g.undo_stack().indexChanged.connect(self._update_title)
        self.params.status.connect(self._status_message)
        self.library.add_requested.connect(self.add_node)
        r = self.runner
        r.event.connect(self.log.handle_event)
        r.event.connect(self.progress.handle_event)
        r.preview.connect(self.preview.add)
        r.failed.connect(self._run_failed)
        r.cancelled.connect(self._run_cancelled)
        r.succeeded.connect(self._run_succeeded)
        r.done.connect(self._run_done)

    # -- document ------------------------------------------------------------------------------
    def base_dir(self) -> Path:
        """The graph file's folder (relative input paths), else the current folder."""
        return self.path.resolve().parent if self.path is not None else Path.cwd()

    def current_spec(self) -> GraphSpec:
        return scene_to_spec(self.graph, self.state)

    def is_modified(self) -> bool:
        return self.current_spec().dumps() != self._saved_text

    def _status_message(self, message: str) -> None:
        self.statusBar().showMessage(message, 8000)

    def _nodes_deleted(self, _ids: list) -> None:
        self._selection_timer.start()

    def _update_title(self, *_args: Any) -> None:
        name = self.path.name if self.path is not None else "untitled"
        try:
            modified = self.is_modified()
        except RuntimeError:  # Qt objects already gone (shutting down)
            return
        self.setWindowTitle(f"{name}{'*' if modified else ''} — nodeflow editor")

    def set_spec(self, spec: GraphSpec, path: Path | None = None) -> None:
        """Show ``spec`` (as loaded from ``path``), replacing the current graph."""
        self.params.show_node(None)
        self.state = load_spec(self.graph, spec)
        self.path = path
        self.preview.clear()
        self._saved_text = spec.dumps()
        self._update_title()
        nodes = self.graph.all_nodes()
        if nodes:
            self.graph.center_on(nodes)
        self.validate(quiet_if_valid=True)

    def load(self, path: str | Path) -> bool:
        """Open a graph file; problems that stop it from loading are shown, never raised."""
        path = Path(path)
        try:
            spec = GraphSpec.load(path)
        except GraphValidationError as exc:
            self.log.problems(f"cannot open {path}:", exc.problems)
            self.statusBar().showMessage(f"cannot open {path}: see the log", 10000)
            return False
        self.set_spec(spec, path)
        self.log.write(f"opened {path}")
        return True

    def save(self, path: str | Path | None = None) -> bool:
        """Save to ``path`` (or the current file; asks for one when there is none)."""
        if path is None and self.path is None:
            return self.save_as_dialog()
        target = Path(path) if path is not None else self.path
        spec = self.current_spec()
        try:
            spec.save(target)
        except OSError as exc:
            self.log.write(f"cannot save {target}: {exc.strerror or exc}", "error")
            QMessageBox.warning(self, "Save failed", f"cannot save {target}: {exc.strerror or exc}")
            return False
        self.path = target
        self._saved_text = spec.dumps()
        self._update_title()
        self.statusBar().showMessage(f"saved {target}", 5000)
        return True

    def new_graph(self) -> None:
        if self._confirm_discard():
            self.set_spec(GraphSpec())

    def open_dialog(self) -> None:
        if not self._confirm_discard():
            return
        chosen, _ = QFileDialog.getOpenFileName(self, "Open graph", str(self.base_dir()), FILE_FILTER)
        if chosen:
            self.load(chosen)

    def save_as_dialog(self) -> bool:
        start = str(self.path) if self.path is not None else str(self.base_dir() / "graph.json")
        chosen, _ = QFileDialog.getSaveFileName(self, "Save graph", start, FILE_FILTER)
        return self.save(chosen) if chosen else False

    def _confirm_discard(self) -> bool:
        if not (self.ask_before_discard and self.is_modified()):
            return True
        answer = QMessageBox.question(
            self, "Unsaved changes", "Save the changes to this graph first?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel)
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._confirm_discard():
            event.ignore()
            return
        if self.runner.running:
            self.runner.cancel()
        self.runner.wait()
        event.accept()

    # -- editing -------------------------------------------------------------------------------
    def add_node(self, type_name: str) -> EditorNode:
        """Add a node of ``type_name`` at the centre of the view, selected."""
        viewer = self.graph.viewer()
        centre = viewer.mapToScene(viewer.viewport().rect().center())
        for n in self.graph.selected_nodes():
            n.set_selected(False)
        cls = self.palette.classes[type_name].node_cls if type_name in self.palette.classes else None
        rows = max(len(cls.inputs), len(cls.outputs)) if cls is not None else 1
        spot = QRectF(centre.x() - 80, centre.y() - 40, 180, 40 + 20 * rows)
        taken = [n.view.sceneBoundingRect() for n in self.graph.all_nodes()]
        while any(spot.intersects(r) for r in taken):  # below the others, not on top of them
            spot.translate(0, 30)
        node = self.graph.add_node_of_type(type_name, pos=(spot.x(), spot.y()))
        node.set_selected(True)
        self._selection_changed()
        return node

    def toggle_node_search(self) -> None:
        """Tab over the graph: a search box of node types; the chosen one is added at the cursor."""
        viewer = self.graph.viewer()
        viewer.tab_search_set_nodes(self.graph._node_factory.names)
        viewer.tab_search_toggle()

    def delete_selected(self) -> None:
        nodes = self.graph.selected_nodes()
        if nodes:
            self.graph.delete_nodes(nodes)

    def selected_node(self) -> EditorNode | None:
        nodes = [n for n in self.graph.selected_nodes() if isinstance(n, EditorNode)]
        return nodes[0] if nodes else None

    def _selection_changed(self) -> None:
        node = self.selected_node()
        if node is not self.params.node:
            self.params.show_node(node)
        self.preview.show_node(node.name() if node is not None else None)

    def _connection_refused(self, message: str) -> None:
        self._status_message(message)

    def _renamed(self, _node: Any, old: str, new: str) -> None:
        self.state.rename(old, new, self.graph)
        self.preview.rename(old, new)
        self._update_title()

    # -- running -------------------------------------------------------------------------------
    def validate(self, quiet_if_valid: bool = False) -> list[Problem]:
        """Check the graph now and list every problem in the log."""
        spec = self.current_spec()
        problems = validate_graph(spec, self.registry, base_dir=self.base_dir(),
                                  output_dir=self.output_dir or self.base_dir()).problems
        self.mark_problems({p.node for p in problems if p.node})
        if problems:
            n = len(problems)
            self.log.problems(f"graph has {n} problem{'s' if n != 1 else ''}:", problems)
            self.statusBar().showMessage(f"graph has {n} problem{'s' if n != 1 else ''}: see the log", 10000)
        elif not quiet_if_valid:
            self.log.write(f"valid ({len(spec.nodes)} nodes)")
            self.statusBar().showMessage("graph is valid", 5000)
        return problems

    def mark_problems(self, node_ids: set[str]) -> None:
        """Red borders on the nodes at fault (cleared on the others)."""
        for node in self.graph.editor_nodes():
            node.mark_problem(node.name() in node_ids)

    def run_graph(self) -> bool:
        """Run the graph in the background; False when a run is already going or args are bad."""
        if self.runner.running:
            self.statusBar().showMessage("a run is already going", 5000)
            return False
        from nodeflow.frames import parse_frames

        try:
            frames = parse_frames(self.frames_edit.text().strip() or None)
        except NodeflowError as exc:
            self.log.write(str(exc).replace("--frames", "frames"), "error")
            return False
        spec = self.current_spec()
        self.mark_problems(set())
        self.progress.starting()
        self.run_action.setEnabled(False)
        self.cancel_action.setEnabled(True)
        self.statusBar().showMessage("running…")
        return self.runner.start(spec, base_dir=self.base_dir(), output_dir=self.output_dir or self.base_dir(),
                                 frames=frames)

    def cancel_run(self) -> None:
        if self.runner.running:
            self.log.write("cancelling…", "warning")
            self.runner.cancel()

    def _run_failed(self, message: str, problems: list, node_ids: list) -> None:
        self.mark_problems(set(node_ids))
        if problems:
            self.log.problems(message + ":", problems)
        else:
            self.log.write(message, "error")
        self.statusBar().showMessage(message.splitlines()[0], 10000)

    def _run_cancelled(self) -> None:
        self.log.write("cancelled", "warning")

    def _run_succeeded(self, results: dict) -> None:
        for name, value in results.items():
            shape = tuple(value.shape) if hasattr(value, "shape") else None
            self.log.write(f"output {name}: {shape if shape is not None else repr(value)[:80]}")

    def _run_done(self, status: str) -> None:
        self.run_action.setEnabled(True)
        self.cancel_action.setEnabled(False)
        self.progress.finished(status)
        if status != "failed":
            self.statusBar().showMessage(f"run {status}", 5000)
