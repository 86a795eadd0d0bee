"""Human-readable views of the catalog."""

from __future__ import annotations

from deploy_helpers.catalog.schema import Catalog


def models_table(catalog: Catalog) -> str:
    """One line per model: name, family, size, weights, dtype, status, profiles with TP."""
    header = ("model", "family", "size", "weights GiB", "dtype", "quant", "status", "profiles")
    rows = [header]
    for model in sorted(catalog.models.values(), key=lambda m: (m.family, m.parameters_b)):
        profiles = ", ".join(
            f"{d.hardware} (TP{d.tensor_parallel}"
            + (f" x DP{d.data_parallel}" if d.data_parallel > 1 else "")
            + ")"
            for d in model.deployments
        )
        rows.append(
            (
                model.name,
                model.family,
                model.size_class,
                f"{model.weights_gib:g}",
                model.dtype,
                model.quantization or "-",
                model.status,
                profiles or "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
