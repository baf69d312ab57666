/* engine.program._textfill: an optional C accelerator of the batch route's fast writer
 * (engine/program/batch_write.py, FastWriter.write_all). Built by `pip install` where a C compiler is present
 * (pyproject.toml, ext-modules, optional); where it is not, or GRADSERVE_TEXT_ACCEL=0, the pure-Python path,
 * which stays the reference, writes the same bytes (tests/engine/test_textfill.py holds the two to each other).
 *
 * One job: every document's answer of a vectorized batch chunk written into one bytes object, from
 *   - orjson's text of the chunk's numbers ("[x,y,...]", `width` numbers a document, in the template's order):
 *     each number's text is copied as orjson wrote it (its shortest repr);
 *   - the template's layout: per document, in order, constant texts, "the next number" and reprs;
 *   - the reprs' values (float64 holding float16/float32 values, rows x documents): each written as `%.{p}f`,
 *     or `%.0f.` for a whole value, by exact integer arithmetic (below), never by printf;
 *   - which documents to write (ok[j] != 0); the others get only the wrap, size 0 (the writer writes them).
 * The output's size is computed first (pass 1, nothing allocated) and checked against `cap` before the one
 * allocation; pass 2 fills it with the GIL released (only the buffers held here are touched).
 *
 * A repr's exactness: v = m * 2**e with m below 2**24 (float32; float16 below 2**11), so a = |v| * 10**p
 * (p <= 6: 10**p = 2**p * 5**p, 5**6 < 2**14) has at most 38 significant bits and is exact in a double; rounding
 * it to an integer q, ties to even, is what `%.{p}f` does to v's exact decimal expansion; then q's digits with the
 * point p digits from the end. A value whose float32 rounding is not itself is declined (None: the Python path).
 * Ties are broken here, not by the FPU's rounding mode. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

enum { ITEM_TEXT, ITEM_NUMBER, ITEM_REPR };

typedef struct {
    int kind;
    const char *text;   /* ITEM_TEXT: its bytes (owned by the layout tuple, alive for the call) */
    Py_ssize_t len;
    Py_ssize_t row;     /* ITEM_REPR: its row of `values` */
    int p;              /* ITEM_REPR: decimals, 1 to 6 */
} Item;

static const uint64_t POW10[7] = {1, 10, 100, 1000, 10000, 100000, 1000000};

/* The fixed-point range (engine.printing.FIXED_RANGE): the callers pass only documents whose values are in it,
 * but a repr is never written for a value outside it (its size would be unbounded), whatever the caller says. */
#define FIXED_LO 1.0e-4
#define FIXED_HI 1.0e8

/* q = |v| * 10**p rounded to the nearest integer, ties to even (exact: see the top); -1 where v is not a
 * float32 value in the fixed-point range (the caller declines). */
static int64_t scaled(double v, int p)
{
    double a = fabs(v);
    if (!(a >= FIXED_LO && a <= FIXED_HI) || (double)(float)v != v)
        return -1;
    double x = a * (double)POW10[p];  /* below 10**14 < 2**53 */
    double f = floor(x);
    double d = x - f;                 /* exact */
    int64_t q = (int64_t)f;
    if (d > 0.5 || (d == 0.5 && (q & 1)))
        q += 1;
    return q;
}

static int ndigits(uint64_t x)
{
    int n = 1;
    while (x >= 10) {
        x /= 10;
        n++;
    }
    return n;
}

/* The repr's length: "[-]ints." and, unless v is whole, p decimals. */
static Py_ssize_t repr_len(double v, int64_t q, int p)
{
    int whole = floor(fabs(v)) == fabs(v);
    return (v < 0) + ndigits((uint64_t)q / POW10[p]) + 1 + (whole ? 0 : p);
}

/* Writes the repr at out (repr_len bytes); returns the bytes written. */
static Py_ssize_t repr_put(char *out, double v, int64_t q, int p)
{
    char *o = out;
    uint64_t ints = (uint64_t)q / POW10[p], frac = (uint64_t)q % POW10[p];
    int n = ndigits(ints);
    if (v < 0)
        *o++ = '-';
    for (int i = n - 1; i >= 0; i--) {
        o[i] = (char)('0' + ints % 10);
        ints /= 10;
    }
    o += n;
    *o++ = '.';
    if (floor(fabs(v)) != fabs(v)) {
        for (int i = p - 1; i >= 0; i--) {
            o[i] = (char)('0' + frac % 10);
            frac /= 10;
        }
        o += p;
    }
    return o - out;
}

/* The end of the number text starting at s: the next ',', else `end` (the closing bracket); NULL past it. */
static const char *number_end(const char *s, const char *end)
{
    if (s > end)
        return NULL;
    const char *c = memchr(s, ',', (size_t)(end - s));
    return c != NULL ? c : end;
}

typedef struct {
    const char *dump, *dump_end;  /* the numbers' text between the brackets: [dump, dump_end) */
    const Item *items;
    Py_ssize_t nitems, n, width, rows;
    const double *values;         /* rows x n */
    const unsigned char *ok;      /* n */
    const char *w0, *w1;
    Py_ssize_t l0, l1;
} Job;

/* Pass 1 (out NULL: sizes only, every read checked) or pass 2 (fills out, sizes as pass 1 gave them). Returns
 * the total bytes, -1 where the input is not what the layout says (ValueError), -2 where a repr's value is
 * declined (the Python path). */
static Py_ssize_t run(const Job *J, Py_ssize_t *sizes, char *out)
{
    const char *s = J->dump;
    Py_ssize_t total = 0, seen = 0;
    for (Py_ssize_t j = 0; j < J->n; j++) {
        Py_ssize_t size = 0;
        if (out != NULL) {
            memcpy(out, J->w0, (size_t)J->l0);
            out += J->l0;
        }
        for (Py_ssize_t k = 0; k < J->nitems; k++) {
            const Item *it = &J->items[k];
            if (it->kind == ITEM_NUMBER) {
                /* each number ends at a comma but the chunk's last, which ends at dump_end (checked below) */
                const char *e = number_end(s, J->dump_end);
                if (e == NULL || e <= s)
                    return -1;
                seen++;
                if (J->ok[j]) {
                    if (out != NULL) {
                        memcpy(out, s, (size_t)(e - s));
                        out += e - s;
                    }
                    size += e - s;
                }
                s = e + 1;
            } else if (!J->ok[j]) {
                continue;
            } else if (it->kind == ITEM_TEXT) {
                if (out != NULL) {
                    memcpy(out, it->text, (size_t)it->len);
                    out += it->len;
                }
                size += it->len;
            } else {
                double v = J->values[it->row * J->n + j];
                int64_t q = scaled(v, it->p);
                if (q < 0)
                    return -2;
                if (out != NULL) {
                    Py_ssize_t m = repr_put(out, v, q, it->p);
                    out += m;
                    size += m;
                } else {
                    size += repr_len(v, q, it->p);
                }
            }
        }
        if (out != NULL) {
            if (size != sizes[j])
                return -1;
            memcpy(out, J->w1, (size_t)J->l1);
            out += J->l1;
        } else {
            sizes[j] = size;
        }
        if (size > PY_SSIZE_T_MAX / 4 - total)
            return -1;
        total += size + J->l0 + J->l1;
    }
    if (seen != J->n * J->width || s != J->dump_end + 1)
        return -1;  /* numbers left over, or fewer than the layout takes */
    return total;
}

/* Layout items from the layout tuple: bytes (a constant text), None (the next number), (row, p) (a repr). */
static Py_ssize_t parse_layout(PyObject *layout, Item *items, Py_ssize_t rows)
{
    Py_ssize_t m = PyTuple_GET_SIZE(layout), numbers = 0;
    for (Py_ssize_t k = 0; k < m; k++) {
        PyObject *x = PyTuple_GET_ITEM(layout, k);
        Item *it = &items[k];
        if (PyBytes_Check(x)) {
            it->kind = ITEM_TEXT;
            it->text = PyBytes_AS_STRING(x);
            it->len = PyBytes_GET_SIZE(x);
        } else if (x == Py_None) {
            it->kind = ITEM_NUMBER;
            numbers++;
        } else if (PyTuple_Check(x) && PyTuple_GET_SIZE(x) == 2) {
            it->kind = ITEM_REPR;
            it->row = PyLong_AsSsize_t(PyTuple_GET_ITEM(x, 0));
            long p = PyLong_AsLong(PyTuple_GET_ITEM(x, 1));
            if (PyErr_Occurred())
                return -1;
            if (it->row < 0 || it->row >= rows || p < 1 || p > 6) {
                PyErr_SetString(PyExc_ValueError, "a repr's row or decimals out of range");
                return -1;
            }
            it->p = (int)p;
        } else {
            PyErr_SetString(PyExc_TypeError, "a layout item is bytes, None or (row, decimals)");
            return -1;
        }
    }
    return numbers;
}

PyDoc_STRVAR(fill_doc,
"fill(dumped, width, layout, values, ok, wrap0, wrap1, cap) -> (text, sizes) or None\n\n"
"Every document's answer, each between wrap0 and wrap1, as one bytes object, and each one's size without the\n"
"wrap; a document j with ok[j] == 0 is the wrap alone (size 0). dumped: orjson's text of the documents'\n"
"numbers, `width` a document; layout: a document's items (bytes, None for the next number, (row, p) for a\n"
"repr of values[row, j] with p decimals); values: float64, rows x documents, C-contiguous; ok: one byte a\n"
"document. None where the text would pass `cap` bytes (cap < 0: no cap) or a repr's value is not a float32\n"
"value in the fixed-point range: nothing is allocated then.");

static PyObject *fill(PyObject *self, PyObject *args)
{
    (void)self;
    const char *dump, *w0, *w1;
    Py_ssize_t dlen, width, cap;
    PyObject *layout, *vobj, *oobj, *result = NULL, *text = NULL, *list = NULL;
    Py_buffer vb = {0}, ob = {0};
    Py_ssize_t l0, l1;
    Item *items = NULL;
    Py_ssize_t *sizes = NULL;
    if (!PyArg_ParseTuple(args, "y#nO!OOy#y#n", &dump, &dlen, &width, &PyTuple_Type, &layout, &vobj, &oobj,
                          &w0, &l0, &w1, &l1, &cap))
        return NULL;
    if (PyObject_GetBuffer(vobj, &vb, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
        return NULL;
    if (PyObject_GetBuffer(oobj, &ob, PyBUF_C_CONTIGUOUS) < 0) {
        PyBuffer_Release(&vb);
        return NULL;
    }
    Job J = {0};
    J.n = ob.len;
    if (vb.itemsize != 8 || vb.format == NULL || strcmp(vb.format, "d") != 0 || ob.itemsize != 1 || J.n < 1
        || vb.len % (8 * J.n) != 0) {
        PyErr_SetString(PyExc_ValueError, "values: float64 rows x documents; ok: a byte a document");
        goto done;
    }
    J.rows = vb.len / (8 * J.n);
    if (dlen < 2 || dump[0] != '[' || dump[dlen - 1] != ']' || width < 1 || width > dlen / J.n) {
        PyErr_SetString(PyExc_ValueError, "dumped: a JSON array of width numbers a document");
        goto done;
    }
    J.nitems = PyTuple_GET_SIZE(layout);
    items = PyMem_Calloc((size_t)J.nitems + 1, sizeof(Item));
    sizes = PyMem_Calloc((size_t)J.n, sizeof(Py_ssize_t));
    if (items == NULL || sizes == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t numbers = parse_layout(layout, items, J.rows);
    if (numbers < 0)
        goto done;
    if (numbers != width) {
        PyErr_SetString(PyExc_ValueError, "the layout takes another count of numbers than width");
        goto done;
    }
    J.dump = dump + 1;
    J.dump_end = dump + dlen - 1;
    J.items = items;
    J.width = width;
    J.values = vb.buf;
    J.ok = ob.buf;
    J.w0 = w0, J.w1 = w1, J.l0 = l0, J.l1 = l1;
    Py_ssize_t total = run(&J, sizes, NULL);  /* pass 1: the sizes, every read checked; nothing written */
    if (total == -2 || (total >= 0 && cap >= 0 && total > cap)) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    if (total < 0) {
        PyErr_SetString(PyExc_ValueError, "dumped does not hold the numbers the layout takes");
        goto done;
    }
    text = PyBytes_FromStringAndSize(NULL, total);
    if (text == NULL)
        goto done;
    Py_ssize_t again;
    Py_BEGIN_ALLOW_THREADS  /* pass 2 touches only the buffers held above, no Python object */
    again = run(&J, sizes, PyBytes_AS_STRING(text));
    Py_END_ALLOW_THREADS
    if (again != total) {
        PyErr_SetString(PyExc_SystemError, "_textfill: the second pass disagrees with the first");
        goto done;
    }
    list = PyList_New(J.n);
    if (list == NULL)
        goto done;
    for (Py_ssize_t j = 0; j < J.n; j++) {
        PyObject *x = PyLong_FromSsize_t(sizes[j]);
        if (x == NULL)
            goto done;
        PyList_SET_ITEM(list, j, x);
    }
    result = PyTuple_Pack(2, text, list);
done:
    Py_XDECREF(text);
    Py_XDECREF(list);
    PyMem_Free(items);
    PyMem_Free(sizes);
    PyBuffer_Release(&vb);
    PyBuffer_Release(&ob);
    return result;
}

static PyMethodDef methods[] = {
    {"fill", fill, METH_VARARGS, fill_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "engine.program._textfill",
    "The batch fast writer's text in C (engine/program/batch_write.py).", -1, methods,
};

PyMODINIT_FUNC PyInit__textfill(void) { return PyModule_Create(&module); }
