"""The editor's main window: graph canvas, node library, params, viewer, log, run controls.

Run (F5) computes what the sinks, the graph outputs and the viewed node need; Run to here (F6)
only what leads to the selected nodes; moving the viewer's frame slider runs that one frame for
the viewed node. Nodes being computed get an orange border, nodes at fault a red one (kept in
step with the graph: fixing the problem clears it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from NodeGraphQt import BackdropNode, Port
from PyQt6.QtCore import QEvent, QObject, QPoint, QPointF, QRectF, Qt, QTimer
from PyQt6.QtGui import QAction, QCloseEvent, QContextMenuEvent, QCursor, QKeySequence, QShortcut, QShowEvent
from PyQt6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QMessageBox,
    QToolBar,
    QWidget,
)

from nodeflow.errors import GraphValidationError, NodeflowError, Problem
from nodeflow.events import Event, NodeFinished, NodeStarted, RunFinished
from nodeflow.graph import GraphSpec
from nodeflow.gui.add_menu import AddMenu, types_fitting
from nodeflow.gui.canvas import EditorGraph
from nodeflow.gui.library_view import LibraryPanel
from nodeflow.gui.log_view import LogPanel
from nodeflow.gui.palette import EditorNode, Palette
from nodeflow.gui.params_form import ParamPanel
from nodeflow.gui.preview_view import PreviewPanel
from nodeflow.gui.progress_view import ProgressPanel
from nodeflow.gui.runner import Runner, RunRequest, default_targets
from nodeflow.gui.scene_io import SceneState, load_spec, scene_to_spec
from nodeflow.registry import Registry, default_registry
from nodeflow.session import Session
from nodeflow.validate import validate_graph

FILE_FILTER = "nodeflow graphs (*.json);;All files (*)"
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp"}
VIDEO_SUFFIXES = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".gif", ".m4v"}
LOADERS = {"image": ("LoadImage", "path"), "video": ("LoadVideo", "path")}
"""What a dropped file becomes: node type and its path param."""
REVALIDATE_MS = 300
MAX_FIT_ZOOM = 1.25


class _CanvasEvents(QObject):
    """Right-click on the canvas opens the Add menu, on a node the node's menu (NodeGraphQt's own
    menus are empty)."""

    def __init__(self, window: EditorWindow):
        super().__init__(window)
        self.window = window

    def eventFilter(self, obj: QObject | None, event: QEvent | None) -> bool:
        if event is not None and event.type() == QEvent.Type.ContextMenu:
            assert isinstance(event, QContextMenuEvent)
            self.window.graph.viewer().RMB_state = False  # as NodeGraphQt's own handler does
            node = self.window.node_at(event.pos())
            if node is not None:
                self.window.open_node_menu(node, event.globalPos())
            else:
                self.window.open_add_menu(event.globalPos())
            return True
        return False


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
        self.add_menu = AddMenu(self.palette, self)
        self._add_at: QPointF | None = None
        """Scene position for the node the Add menu adds (None: the view's centre)."""
        self._link_from: Port | None = None
        """The port a wire was dropped from: the added node gets connected to it."""
        self._pending_frame: int | None = None
        self._running_nodes: set[str] = set()
        self._shown_once = False
        self.node_menu: QMenu | None = None

        self.setCentralWidget(self.graph.widget)
        library = self._dock("Nodes", self.library, Qt.DockWidgetArea.LeftDockWidgetArea)
        params = self._dock("Params", self.params, Qt.DockWidgetArea.RightDockWidgetArea)
        preview = self._dock("Preview", self.preview, Qt.DockWidgetArea.RightDockWidgetArea)
        log = self._dock("Log", self.log, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.resizeDocks([library, params], [170, 380], Qt.Orientation.Horizontal)
        self.resizeDocks([params, preview, log], [360, 420, 110], Qt.Orientation.Vertical)
        self._build_actions()
        self._connect()
        self._saved_text = self.current_spec().dumps()
        self._canvas_events = _CanvasEvents(self)
        self.graph.viewer().viewport().installEventFilter(self._canvas_events)
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
        # Kept on the window: Qt deletes actions nobody references, and with them the shortcuts.
        self.undo_action = undo = stack.createUndoAction(self, "&Undo")
        undo.setShortcuts([QKeySequence("Ctrl+Z")])
        self.redo_action = redo = stack.createRedoAction(self, "&Redo")
        redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        for a in (undo, redo):
            a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            self.addAction(a)
        copy = self._action("&Copy", self.graph.copy_nodes, keys.Copy)
        paste = self._action("&Paste", self.graph.paste_nodes, keys.Paste)
        self.delete_action = delete = self._action("&Delete", self.delete_selected, keys.Delete)
        delete.setShortcuts([QKeySequence(keys.Delete), QKeySequence("Backspace")])
        select_all = self._action("Select &All", self.graph.select_all, keys.SelectAll)
        fit = self._action("&Fit View", self.fit_view, "F", "fit the selection (or everything) in view")
        self.frame_action = self._action("Add &Frame", self.add_frame, "Ctrl+G",
                                         "a titled frame (backdrop) around the selected nodes")
        self.run_action = self._action("&Run", self.run_graph, "F5",
                                       "run what the sinks, outputs and viewed node need "
                                       "(only what changed since the last run)")
        self.run_here_action = self._action("Run to &Here", self.run_to_here, "F6",
                                            "run only what leads to the selected nodes")
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
        self.edit_menu = edit_menu
        for a in (undo, redo):
            edit_menu.addAction(a)
        edit_menu.addSeparator()
        for a in (copy, paste, delete, select_all, fit, self.frame_action):
            edit_menu.addAction(a)
        graph_menu = bar.addMenu("&Graph")
        for a in (self.run_action, self.run_here_action, self.cancel_action, validate):
            graph_menu.addAction(a)
        self.add_node_menu = graph_menu.addMenu("&Add Node")
        for category, names in self.palette.categories().items():
            sub = self.add_node_menu.addMenu(category)
            for name in names:
                sub.addAction(self._action(name, lambda name=name: self.add_node(name),
                                           tip=self.palette.classes[name].node_cls.summary()))

        search = QShortcut(QKeySequence("Tab"), self.graph.viewer())
        search.setContext(Qt.ShortcutContext.WidgetShortcut)
        search.activated.connect(self.toggle_node_search)
        add = QShortcut(QKeySequence("Shift+A"), self.graph.viewer())
        add.setContext(Qt.ShortcutContext.WidgetShortcut)
        add.activated.connect(lambda: self.open_add_menu(QCursor.pos()))
        self.add_menu.chosen.connect(self._add_menu_chosen)

        tools = QToolBar("Run")
        tools.setObjectName("Run")
        tools.addAction(self.run_action)
        tools.addAction(self.run_here_action)
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
        g.files_dropped.connect(self.add_loaders)
        g.link_dropped.connect(self._link_dropped)
        g.property_changed.connect(self._property_changed)
        g.port_connected.connect(self._ports_changed)
        g.port_disconnected.connect(self._ports_changed)
        # Bound methods, not lambdas: Qt drops these connections when the window goes away.
        g.undo_stack().indexChanged.connect(self._update_title)
        self._revalidate_timer = QTimer(self)
        self._revalidate_timer.setSingleShot(True)
        self._revalidate_timer.setInterval(REVALIDATE_MS)
        self._revalidate_timer.timeout.connect(self._revalidate)
        g.undo_stack().indexChanged.connect(self._schedule_revalidate)
        self.params.status.connect(self._status_message)
        self.library.add_requested.connect(self.add_node)
        self.preview.frame_requested.connect(self.run_frame)
        r = self.runner
        r.event.connect(self.log.handle_event)
        r.event.connect(self.progress.handle_event)
        r.event.connect(self._run_event)
        r.preview.connect(self.preview.add)
        r.preview.connect(self._thumbnail)
        r.outputs.connect(self.preview.add_outputs)
        r.planned.connect(self._planned)
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
        self.progress.idle()
        self.frames_edit.clear()
        self._pending_frame = None
        self._running_nodes.clear()
        self._saved_text = spec.dumps()
        self._update_title()
        self.fit_view(everything=True)
        QTimer.singleShot(0, self._fit_all)  # again once the view has its final size
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

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._shown_once:  # the view has its real size only now
            self._shown_once = True
            QTimer.singleShot(0, self._fit_all)

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._confirm_discard():
            event.ignore()
            return
        if self.runner.running:
            self.runner.cancel()
        self.runner.wait()
        event.accept()

    # -- editing -------------------------------------------------------------------------------
    def add_node(self, type_name: str, at: QPointF | None = None) -> EditorNode:
        """Add a node of ``type_name`` at ``at`` (default: the centre of the view), selected."""
        viewer = self.graph.viewer()
        centre = at if at is not None else viewer.mapToScene(viewer.viewport().rect().center())
        for n in self.graph.selected_nodes():
            n.set_selected(False)
        cls = self.palette.classes[type_name].node_cls if type_name in self.palette.classes else None
        rows = max(len(cls.inputs), len(cls.outputs)) if cls is not None else 1
        corner = (centre.x(), centre.y()) if at is not None else (centre.x() - 80, centre.y() - 40)
        spot = QRectF(corner[0], corner[1], 180, 40 + 20 * rows)
        taken = [n.view.sceneBoundingRect() for n in self.graph.all_nodes()]
        while any(spot.intersects(r) for r in taken):  # below the others, not on top of them
            spot.translate(0, 30)
        node = self.graph.add_node_of_type(type_name, pos=(spot.x(), spot.y()))
        node.set_selected(True)
        self._selection_changed()
        return node

    def fit_view(self, everything: bool = False) -> None:
        """Fit the selected nodes (or all, when none is selected or ``everything``) in the view."""
        nodes = [] if everything else self.graph.selected_nodes()
        nodes = nodes or self.graph.all_nodes()
        if not nodes:
            return
        rect = QRectF()
        for node in nodes:
            view = node.view
            rect = rect.united(view.sceneBoundingRect().united(view.childrenBoundingRect()
                                                               .translated(view.scenePos())))
        viewer = self.graph.viewer()
        rect = rect.adjusted(-30, -30, 30, 30)
        view = viewer.viewport().size()
        min_w, min_h = view.width() / MAX_FIT_ZOOM, view.height() / MAX_FIT_ZOOM
        if rect.width() < min_w or rect.height() < min_h:  # a small graph is not blown up
            centre = rect.center()
            rect.setWidth(max(rect.width(), min_w))
            rect.setHeight(max(rect.height(), min_h))
            rect.moveCenter(centre)
        viewer._scene_range = rect  # NodeGraphQt's camera: the scene rect it fits in view
        viewer._update_scene()

    def _fit_all(self) -> None:
        self.fit_view(everything=True)

    def add_frame(self) -> BackdropNode:
        """A frame (backdrop) around the selected nodes (or at the view's centre); undoable."""
        selected = self.graph.selected_nodes()
        viewer = self.graph.viewer()
        centre = viewer.mapToScene(viewer.viewport().rect().center())
        frame = self.graph.create_node(BackdropNode.type_, pos=(centre.x(), centre.y()))
        if selected:
            frame.wrap_nodes(selected)
        return frame

    def open_add_menu(self, global_pos: QPoint, allowed: list[str] | None = None,
                      scene_pos: QPointF | None = None) -> AddMenu:
        """The Add menu at ``global_pos``; the node goes where the menu was opened."""
        viewer = self.graph.viewer()
        if scene_pos is None:
            scene_pos = viewer.mapToScene(viewer.viewport().mapFromGlobal(global_pos))
            self._link_from = None
        self._add_at = scene_pos
        self.add_menu.open_at(global_pos, allowed)
        return self.add_menu

    def node_at(self, viewport_pos: QPoint) -> EditorNode | None:
        """The node under a point of the canvas (None over empty canvas, wires or frames)."""
        viewer = self.graph.viewer()
        for item in viewer.scene().items(viewer.mapToScene(viewport_pos)):
            while item is not None:
                node = self.graph.get_node_by_id(getattr(item, "id", None)) if hasattr(item, "id") else None
                if isinstance(node, EditorNode):
                    return node
                item = item.parentItem()
        return None

    def open_node_menu(self, node: EditorNode, global_pos: QPoint) -> QMenu:
        """Run to here, frame, delete: for the node right-clicked (it becomes the selection)."""
        if node not in self.graph.selected_nodes():
            for other in self.graph.selected_nodes():
                other.set_selected(False)
            node.set_selected(True)
            self._selection_changed()
        menu = QMenu(self)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        for action in (self.run_here_action, self.frame_action, self.delete_action):
            menu.addAction(action)
        menu.popup(global_pos)
        self.node_menu = menu
        return menu

    def _add_menu_chosen(self, type_name: str) -> None:
        pos = self._add_at
        link, self._link_from = self._link_from, None
        stack = self.graph.undo_stack()
        stack.beginMacro(f"add {type_name}")  # one undo step, connection included
        node = self.add_node(type_name, at=pos)
        if link is not None:
            self.graph.connect_first_fit(link, node)
        stack.endMacro()

    def _link_dropped(self, port: Port, scene_pos: QPointF) -> None:
        viewer = self.graph.viewer()
        global_pos = viewer.viewport().mapToGlobal(viewer.mapFromScene(scene_pos))
        self._link_from = port
        self.open_add_menu(global_pos, types_fitting(self.palette, port), scene_pos=scene_pos)

    def add_loaders(self, paths: list[str], scene_pos: QPointF | None = None) -> list[EditorNode]:
        """A loader per dropped image/video file (path relative to the graph's folder when inside);
        a dropped graph file is opened instead."""
        from nodeflow.gui.field_editors import relative_to

        added = []
        at = scene_pos
        graphs = [p for p in paths if Path(p).suffix.lower() == ".json"]
        if graphs and len(graphs) == len(paths):  # a graph file: open it, as File ▸ Open would
            if self._confirm_discard():
                self.load(graphs[0])
            return added
        for path in paths:
            suffix = Path(path).suffix.lower()
            kind = "image" if suffix in IMAGE_SUFFIXES else "video" if suffix in VIDEO_SUFFIXES else None
            if kind is None or LOADERS[kind][0] not in self.palette.classes:
                self.log.write(f"cannot add a loader for {path}: not an image or video file", "warning")
                continue
            type_name, param = LOADERS[kind]
            self.graph.undo_stack().beginMacro(f"add {type_name} for {Path(path).name}")
            node = self.add_node(type_name, at=at)
            node.set_param(param, relative_to(Path(path), self.base_dir()))
            self.graph.undo_stack().endMacro()
            self.params.show_node(node)
            added.append(node)
            if at is not None:
                at = QPointF(at.x() + 30, at.y() + 30)
        return added

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
        shown: EditorNode | BackdropNode | None = node
        if node is None:  # a frame alone: its title and text
            shown = next((n for n in self.graph.selected_nodes() if isinstance(n, BackdropNode)), None)
        if shown is not self.params.node:
            self.params.show_node(shown)
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
        """Run what the sinks, graph outputs and the viewed node need, in the background; False when
        a run is already going or the frames box is bad."""
        viewed = self.preview.node_id
        if not viewed and not default_targets(self.current_spec(), self.registry):
            message = "nothing to run: the graph has no sinks or outputs; select a node to run what it needs"
            self.log.write(message, "warning")
            self.statusBar().showMessage(message, 8000)
            return False
        return self._start(RunRequest(soft={viewed} if viewed else set()), use_frames_box=True)

    def run_to_here(self) -> bool:
        """Run only what leads to the selected nodes (no other sinks); False if none is selected."""
        chosen = {n.name() for n in self.graph.selected_nodes() if isinstance(n, EditorNode)}
        if not chosen:
            self.statusBar().showMessage("Run to here: select the node(s) to compute first", 5000)
            return False
        return self._start(RunRequest(targets=chosen, include_sinks=False, label="run to here"),
                           use_frames_box=True)

    def run_frame(self, frame: int) -> bool:
        """Compute one frame for the viewed node (scrubbing); queued while another run is going."""
        viewed = self.preview.node_id
        if viewed is None or self.graph.node_by_id(viewed) is None:
            return False
        if self.runner.running:
            self._pending_frame = frame
            return False
        self._pending_frame = None
        return self._start(RunRequest(targets={viewed}, include_sinks=False, frame_list=[frame], batch_size=1,
                                      label=f"frame {frame}"))

    def _start(self, request: RunRequest, use_frames_box: bool = False) -> bool:
        if self.runner.running:
            self.statusBar().showMessage("a run is already going", 5000)
            return False
        if use_frames_box:
            from nodeflow.frames import parse_frames

            try:
                request.frames = parse_frames(self.frames_edit.text().strip() or None)
            except NodeflowError as exc:
                self.log.write(str(exc).replace("--frames", "frames"), "error")
                return False
        spec = self.current_spec()
        self.mark_problems(set())
        self.progress.starting()
        self.run_action.setEnabled(False)
        self.run_here_action.setEnabled(False)
        self.cancel_action.setEnabled(True)
        self.statusBar().showMessage(f"{request.label}…")
        return self.runner.start(spec, base_dir=self.base_dir(), output_dir=self.output_dir or self.base_dir(),
                                 request=request)

    def _run_event(self, event: Event) -> None:
        """The node being computed gets an orange border."""
        if isinstance(event, NodeStarted | NodeFinished):
            node = self.graph.node_by_id(event.node_id)
            on = isinstance(event, NodeStarted)
            if on:
                self._running_nodes.add(event.node_id)
            else:
                self._running_nodes.discard(event.node_id)
            if node is not None:
                node.mark_running(on)
        elif isinstance(event, RunFinished):
            self._clear_running()

    def _clear_running(self) -> None:
        for nid in list(self._running_nodes):
            node = self.graph.node_by_id(nid)
            if node is not None:
                node.mark_running(False)
        self._running_nodes.clear()

    def _thumbnail(self, node_id: str, _output: str, _frame: Any, image: Any) -> None:
        node = self.graph.node_by_id(node_id)
        if node is not None:
            node.refresh_body(thumb=image)

    def _planned(self, plan: Any) -> None:
        if plan.frame_count is not None:  # a still-only run (Run to here on a still) keeps the slider
            self.preview.set_frame_count(plan.frame_count)

    def _downstream(self, node_ids: set[str]) -> set[str]:
        spec = self.current_spec()
        readers: dict[str, set[str]] = {}
        for nid, n in spec.nodes.items():
            for e in n.inputs.values():
                readers.setdefault(e.node, set()).add(nid)
        out: set[str] = set()
        todo = list(node_ids)
        while todo:
            nid = todo.pop()
            if nid not in out:
                out.add(nid)
                todo.extend(readers.get(nid, ()))
        return out

    def _forget(self, node_ids: set[str]) -> None:
        """What the viewer kept for these nodes (and what reads them) is stale now."""
        for nid in self._downstream(node_ids):
            self.preview.forget(nid)
        self.preview.show_node(self.preview.node_id)

    def _property_changed(self, node: Any, prop: str, _value: Any) -> None:
        if isinstance(node, EditorNode) and prop.startswith("param:"):
            self._forget({node.name()})

    def _ports_changed(self, in_port: Any, _out_port: Any) -> None:
        node = in_port.node()
        if isinstance(node, EditorNode):
            self._forget({node.name()})

    def _schedule_revalidate(self, *_args: Any) -> None:
        self._revalidate_timer.start()  # not start(index): that would set the interval

    def _revalidate(self) -> None:
        """After an edit: red borders only where the graph still has a problem."""
        if self.runner.running:
            return
        spec = self.current_spec()
        try:
            problems = validate_graph(spec, self.registry, base_dir=self.base_dir(),
                                      output_dir=self.output_dir or self.base_dir()).problems
        except Exception:  # never let a background check take the editor down
            return
        self.mark_problems({p.node for p in problems if p.node})

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
        self.run_here_action.setEnabled(True)
        self.cancel_action.setEnabled(False)
        self._clear_running()
        self.progress.finished(status)
        if status != "failed":
            self.statusBar().showMessage(f"run {status}", 5000)
        if self._pending_frame is not None and status != "cancelled":
            QTimer.singleShot(0, self._run_pending_frame)

    def _run_pending_frame(self) -> None:
        if self._pending_frame is not None:
            self.run_frame(self._pending_frame)
