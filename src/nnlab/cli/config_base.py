"""What every section of the run configuration shares: strict scalar types and keys that must have an effect."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field, Strict, model_validator

# Strict: ``epochs = true``, ``epochs = 2.0`` and ``batch_norm = "yes"`` are refused, not converted.
# A float key still takes an integer (``lr = 1``), never a boolean.
Int = Annotated[int, Strict()]
Bool = Annotated[bool, Strict()]
Float = Annotated[float, Strict()]
Fraction = Annotated[float, Strict(), Field(ge=0, lt=1)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True, allow_inf_nan=False)

    # key -> (the key of the same section it depends on, the values of that key for which it has an effect)
    ONLY_FOR: ClassVar[dict] = {}

    @model_validator(mode="after")
    def _keys_without_effect(self):
        """Refuse a key set to a non-default value that the chosen option ignores (momentum with Adam).

        Comparing with the default, not asking whether the key was written, lets a
        full dump of a config (as stored in a model file) validate again.
        """
        section = _SECTION_NAMES.get(type(self).__name__, "")
        for key, (depends_on, values) in self.ONLY_FOR.items():
            choice = getattr(self, depends_on)
            value = getattr(self, key)
            if choice not in values and value != type(self).model_fields[key].get_default(call_default_factory=True):
                used = ", ".join(repr(v) for v in values)
                raise ValueError(f"{section}.{key} = {value!r} has no effect with {section}.{depends_on} = "
                                 f"{choice!r} (it is used with {used}); remove it")
        return self


_SECTION_NAMES = {}  # class name -> section name in the file, filled in by config.py
