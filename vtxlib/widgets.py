"""ipywidgets forms for the notebooks outside Colab.

On Colab a notebook's parameters cell is a ``# @param`` form; in Jupyter the same variables get an
ipywidgets form: each widget writes its value into the notebook's namespace as soon as it changes,
so the cells below read the same variable whichever form set it. Under papermill the injected
parameters are already in the namespace and the form only shows them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Optional

log = logging.getLogger("vtxlib.widgets")


@dataclass
class FormField:
    name: str
    value: Any
    choices: Optional[list] = None
    description: str = ""

    @property
    def kind(self) -> str:
        if self.choices:
            return "choice"
        if isinstance(self.value, bool):
            return "bool"
        if isinstance(self.value, int):
            return "int"
        if isinstance(self.value, float):
            return "float"
        return "text"


class Form:
    """The widgets of one form, bound to a namespace (a notebook's ``globals()``)."""

    def __init__(self, namespace: dict, fields: list[FormField]):
        import ipywidgets as w

        self.namespace = namespace
        self.fields = fields
        self.widgets = {f.name: _widget(w, f) for f in fields}
        for name, widget in self.widgets.items():
            widget.observe(self._setter(name), names="value")
        self.box = w.VBox(list(self.widgets.values()))

    def _setter(self, name: str):
        def update(change: dict) -> None:
            self.namespace[name] = change["new"]

        return update

    def values(self) -> dict:
        return {name: self.namespace.get(name) for name in self.widgets}

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.box)


def _widget(w, field: FormField):
    label = field.name.replace("_", " ").lower()
    common = {"description": label, "style": {"description_width": "initial"},
              "description_allow_html": False}
    if field.description:
        common["tooltip"] = field.description
    kind = field.kind
    if kind == "choice":
        options = list(field.choices)
        if field.value not in options:
            options.append(field.value)
        return w.Dropdown(options=options, value=field.value, **common)
    if kind == "bool":
        return w.Checkbox(value=field.value, indent=False, **common)
    if kind == "int":
        return w.IntText(value=field.value, **common)
    if kind == "float":
        return w.FloatText(value=field.value, **common)
    return w.Text(value="" if field.value is None else str(field.value),
                  layout=w.Layout(width="90%"), **common)


def parameter_form(namespace: dict, spec: dict[str, Optional[list]],
                   descriptions: Optional[dict[str, str]] = None, show: Optional[bool] = None) -> Optional[Form]:
    """Build (and display unless on Colab) a form for the variables named in SPEC.

    ``spec`` maps each variable to its list of choices (None for free input); the widget type
    follows the variable's current value. Returns None when ipywidgets is not installed (the
    parameters cell still works: edit the values there).
    """
    missing = [name for name in spec if name not in namespace]
    if missing:
        raise KeyError(f"form variables not defined in the parameters cell: {', '.join(missing)}")
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        log.info("ipywidgets is not installed: edit the values in the parameters cell instead")
        return None
    descriptions = descriptions or {}
    fields = [FormField(name, namespace[name], choices, descriptions.get(name, "")) for name, choices in spec.items()]
    form = Form(namespace, fields)
    if show is None:
        from .colab_install import in_colab

        show = not in_colab()  # Colab shows the # @param form of the parameters cell instead
    if show:
        try:
            from IPython.display import display
        except ImportError:
            return form
        display(form)
    return form
