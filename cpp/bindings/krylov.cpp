// pynla._core kernels of the Krylov solvers (pynla/krylov/): CSR products with vectors and
// blocks, the orthogonalization against a basis, block products, and the two solver loops
// (the Arnoldi steps of a GCRO-DR cycle, deflated CG), their A and M either the core's CSR
// product and a diagonal scaling or Python callables called with the GIL. The solvers run in
// float64 or complex128.
#include <cstring>
#include <optional>

#include "pynla/krylov/arnoldi.hpp"
#include "pynla/krylov/block_products.hpp"
#include "pynla/krylov/csr_matvec.hpp"
#include "pynla/krylov/deflated_cg.hpp"
#include "pynla/krylov/orthogonalize.hpp"

#include "common.hpp"

namespace pynla::bindings {

namespace {

// Calls body(Tag<T>{}) for float64 or complex128 `values`.
template <class Body>
py::object dispatch_solver_value(const py::handle& values, const char* what, Body&& body) {
    if (py::isinstance<py::array_t<double>>(values)) return body(Tag<double>{});
    if (py::isinstance<py::array_t<std::complex<double>>>(values)) return body(Tag<std::complex<double>>{});
    throw py::type_error(std::string(what) + ": expected float64 or complex128 values");
}

// A Fortran-ordered basis whose first p columns are used, with n rows: (data, leading dimension).
template <class T>
std::pair<const T*, std::int64_t> basis_columns(const py::handle& q_in, std::int64_t p, std::int64_t n,
                                                const char* what) {
    const auto q = fortran_matrix<T>(q_in, what);
    if (q.shape(0) != n) throw py::value_error(std::string(what) + ": expected " + std::to_string(n) + " rows");
    if (p < 0 || p > q.shape(1)) throw py::value_error(std::string(what) + ": p is outside its columns");
    return {q.data(), std::max<std::int64_t>(n, 1)};
}

template <class I, class T>
py::object csr_matvec_typed(const CsrView<I, T>& a, const py::handle& x_in) {
    const auto x_array = py::reinterpret_borrow<py::array>(x_in);
    if (x_array.ndim() == 1) {
        const T* x = vector_data<T>(x_in, "x", a.n_cols);
        Buffer<T> y(a.n_rows);
        without_gil([&] { krylov::csr_matvec(a, x, 1, y.data()); });
        return to_numpy(std::move(y));
    }
    const auto [x, k] = matrix_rows<T>(x_in, "x", a.n_cols);
    Buffer<T> y(a.n_rows * k);
    without_gil([&, x = x, k = k] { krylov::csr_matvec(a, x, k, y.data()); });
    return to_numpy(std::move(y)).reshape({a.n_rows, k});
}

// A view of n values at `data` as a read-only numpy array (no copy; `owner` keeps it alive).
template <class T>
py::array_t<T> read_only_view(const T* data, std::int64_t n, const py::handle& owner) {
    py::array_t<T> view({n}, {static_cast<py::ssize_t>(sizeof(T))}, data, owner);
    py::detail::array_proxy(view.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
    return view;
}

// out = f(in) for a Python callable f of n values, with the GIL taken for the call.
template <class T>
void call_python(const py::object& f, const T* in, T* out, std::int64_t n, const py::handle& owner, const char* what) {
    py::gil_scoped_acquire gil;
    const py::object result = f(read_only_view(in, n, owner));
    const auto values = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(result);
    if (!values || values.ndim() != 1 || values.shape(0) != n) {
        throw py::value_error(std::string(what) + ": expected a result of shape (" + std::to_string(n) + ",)");
    }
    std::memcpy(out, values.data(), static_cast<std::size_t>(n) * sizeof(T));
}

template <class T>
T* column_data(const py::handle& array, const char* what, std::int64_t rows, std::int64_t columns) {
    const auto matrix = fortran_matrix<T>(array, what);
    if (matrix.shape(0) != rows || matrix.shape(1) != columns || !matrix.writeable()) {
        throw py::value_error(std::string(what) + ": expected a writeable " + std::to_string(rows) + " x " +
                              std::to_string(columns) + " Fortran-ordered array");
    }
    return const_cast<T*>(matrix.data());
}

// A or M of a solver loop: the core's CSR product for a CSR tuple (indptr, indices, data,
// shape), a diagonal scaling for a 1-D array, else a Python callable called with the GIL. It
// borrows the Python objects: they must outlive it.
template <class T>
class LoopOperator {
public:
    LoopOperator(const py::object& operand, std::int64_t n, const py::handle& owner, const char* what)
        : operand_(operand), n_(n), owner_(owner), what_(what) {
        if (operand.is_none()) return;
        if (py::isinstance<py::tuple>(operand)) {
            const auto csr = operand.cast<py::tuple>();
            if (py::isinstance<py::array_t<std::int32_t>>(csr[1])) {
                csr32_ = csr_view<std::int32_t, T>(csr, what);
            } else {
                csr64_ = csr_view<std::int64_t, T>(csr, what);
            }
            const bool square = csr32_ ? csr32_->n_rows == n && csr32_->n_cols == n : csr64_->n_rows == n && csr64_->n_cols == n;
            if (!square) throw py::value_error(std::string(what) + ": expected an n x n CSR matrix");
        } else if (py::isinstance<py::array>(operand)) {
            diagonal_ = vector_data<T>(operand, what, n);
        }
    }

    // out = this in, and in^H out (for CG's curvature: a CSR product sums it in the same sweep).
    T product_and_inner(const T* in, T* out) const {
        if (csr32_) return krylov::csr_matvec_inner(*csr32_, in, out);
        if (csr64_) return krylov::csr_matvec_inner(*csr64_, in, out);
        return krylov::product_then_inner(*this, in, out, n_);
    }

    // The diagonal when the operand is one, else null.
    const T* diagonal() const { return diagonal_; }

    void operator()(const T* in, T* out) const {
        if (csr32_) {
            krylov::csr_matvec(*csr32_, in, 1, out);
        } else if (csr64_) {
            krylov::csr_matvec(*csr64_, in, 1, out);
        } else if (diagonal_ != nullptr) {
            krylov::diagonal_product(diagonal_, in, out, n_);
        } else {
            call_python<T>(operand_, in, out, n_, owner_, what_);
        }
    }

private:
    const py::object& operand_;
    std::int64_t n_;
    py::handle owner_;
    const char* what_;
    std::optional<CsrView<std::int32_t, T>> csr32_;
    std::optional<CsrView<std::int64_t, T>> csr64_;
    const T* diagonal_ = nullptr;
};

template <class T>
py::object arnoldi_typed(const py::handle& basis_in, std::int64_t kk, std::int64_t steps, const py::handle& h_in,
                         const py::handle& b_in, const py::handle& s_in, double beta, double tolerance, double breakdown, const py::object& a,
                         const py::object& m) {
    const auto basis_array = fortran_matrix<T>(basis_in, "basis");
    const std::int64_t n = basis_array.shape(0);
    if (kk < 0 || steps < 1 || kk + steps + 1 > basis_array.shape(1)) {
        throw py::value_error("basis: expected kk + steps + 1 columns");
    }
    T* basis = column_data<T>(basis_in, "basis", n, basis_array.shape(1));
    T* h = column_data<T>(h_in, "h", steps + 1, steps);
    T* b = column_data<T>(b_in, "b", kk, steps);
    T* s = column_data<T>(s_in, "s", kk + steps, steps);
    const LoopOperator<T> apply_a(a, n, basis_in, "A");
    const LoopOperator<T> apply_m(m, n, basis_in, "M");
    const auto outcome = without_gil([&] {
        return krylov::arnoldi(basis, n, kk, steps, h, b, s, beta, tolerance, breakdown, apply_a, apply_m, m.is_none());
    });
    return py::make_tuple(outcome.steps, outcome.products, outcome.broke_down, outcome.non_finite);
}

template <class T>
py::object deflated_cg_typed(const py::tuple& workspace, const py::object& a, const py::object& m,
                             const py::object& callback, double tolerance, std::int64_t max_iterations,
                             std::int64_t done, bool keep) {
    if (workspace.size() != 16) throw py::value_error("workspace: expected 16 entries");
    krylov::CgWorkspace<T> ws;
    ws.n = py::reinterpret_borrow<py::array>(workspace[0]).shape(0);
    const std::int64_t n = ws.n;
    ws.x = mutable_vector_data<T>(workspace[0], "x", n);
    const auto awr = py::reinterpret_borrow<py::array>(workspace[1]);
    ws.k = awr.ndim() == 2 ? awr.shape(1) - 1 : -1;
    if (ws.k < 0) throw py::value_error("awr: expected a 2-D array");
    const std::int64_t k = ws.k;
    T* awr_data = column_data<T>(workspace[1], "awr", n, k + 1);
    ws.awr = awr_data;
    ws.r = awr_data + k * n;
    ws.w = k > 0 ? column_data<T>(workspace[2], "w", n, k) : nullptr;
    ws.gram = column_data<T>(workspace[3], "gram", k, k);
    ws.inverse_gram = column_data<T>(workspace[4], "inverse_gram", k, k);
    ws.capacity = py::reinterpret_borrow<py::array>(workspace[5]).shape(1);
    const std::int64_t capacity = ws.capacity;
    ws.kept = column_data<T>(workspace[5], "kept", n, capacity);
    ws.kept_products = column_data<T>(workspace[6], "kept_products", n, capacity);
    ws.kept_coefficients = column_data<T>(workspace[7], "kept_coefficients", k, capacity);
    ws.stored = workspace[8].cast<std::int64_t>();
    if (ws.stored < 0 || ws.stored > capacity) throw py::value_error("stored: outside the kept columns");
    ws.alphas = mutable_vector_data<double>(workspace[9], "alphas", capacity);
    ws.curvatures = mutable_vector_data<double>(workspace[10], "curvatures", capacity);
    ws.rhos = mutable_vector_data<double>(workspace[11], "rhos", capacity + 1);
    ws.projections = column_data<T>(workspace[12], "projections", k, capacity + 1);
    ws.spare = mutable_vector_data<T>(workspace[13], "spare", n);
    ws.q = mutable_vector_data<T>(workspace[14], "q", n);
    ws.z = mutable_vector_data<T>(workspace[15], "z", n);

    const LoopOperator<T> apply_a(a, n, workspace[0], "A");
    const LoopOperator<T> apply_m(m, n, workspace[0], "M");
    ws.m_diagonal = apply_m.diagonal();
    const auto product_and_inner = [&](const T* p, T* q) { return apply_a.product_and_inner(p, q); };
    // The iterate is made whole only for a callback, which gets its own copy.
    const auto each_iteration = [&](const auto& current_x) {
        if (callback.is_none()) return;
        const T* x = current_x();
        py::gil_scoped_acquire gil;
        py::array_t<T> copy(n);
        std::copy_n(x, n, copy.mutable_data());
        callback(copy);
    };
    const auto outcome = without_gil([&] {
        return krylov::deflated_cg(ws, product_and_inner, apply_m, m.is_none(), each_iteration, tolerance,
                                   max_iterations, done, keep);
    });
    return py::make_tuple(outcome.status, outcome.iterations, outcome.products, outcome.preconditionings, ws.stored,
                          outcome.residual_norm);
}

}  // namespace

void bind_krylov(py::module_& m) {
    m.def(
        "csr_matvec",
        [](const py::tuple& a, const py::handle& x) -> py::object {
            return with_csr_view(a, "a", [&](const auto& view) { return csr_matvec_typed(view, x); });
        },
        py::arg("a"), py::arg("x"),
        "A @ x for a checked CSR tuple (indptr, indices, data, shape) and x of A's dtype: 1-D, or 2-D\n"
        "C-contiguous. Rows summed in stored order: the same bits for any thread count.");

    m.def(
        "krylov_orthogonalize",
        [](const py::handle& q, std::int64_t p, const py::handle& w) -> py::object {
            return dispatch_solver_value(w, "w", [&](auto tag) -> py::object {
                using T = typename decltype(tag)::type;
                const std::int64_t n = py::reinterpret_borrow<py::array>(w).shape(0);
                T* w_data = mutable_vector_data<T>(w, "w", n);
                const auto [q_data, ldq] = basis_columns<T>(q, p, n, "q");
                Buffer<T> h(p);
                const double norm = without_gil(
                    [&, q_data = q_data, ldq = ldq] { return krylov::orthogonalize(q_data, ldq, p, w_data, n, h.data()); });
                return py::make_tuple(to_numpy(std::move(h)), norm);
            });
        },
        py::arg("q"), py::arg("p"), py::arg("w"),
        "(h, norm): w -= Q (Q^H w) twice (classical Gram-Schmidt with reorthogonalization) against the\n"
        "first p columns of the Fortran-ordered q, in place; h the coefficients, norm ||w|| after. (The\n"
        "solvers reach it through the arnoldi loop; this entry tests it against SciPy's own BLAS.)");

    m.def(
        "krylov_inner",
        [](const py::handle& q_in, const py::handle& x_in) -> py::object {
            return dispatch_solver_value(x_in, "x", [&](auto tag) -> py::object {
                using T = typename decltype(tag)::type;
                const auto q = fortran_matrix<T>(q_in, "q");
                const auto x = fortran_matrix<T>(x_in, "x");
                if (q.shape(0) != x.shape(0)) throw py::value_error("x: expected as many rows as q");
                const std::int64_t n = q.shape(0), p = q.shape(1), k = x.shape(1);
                py::array_t<T, py::array::f_style> h({p, k});
                T* h_data = h.mutable_data();
                without_gil([&] { krylov::block_project(q.data(), std::max<std::int64_t>(n, 1), p, x.data(),
                                                        std::max<std::int64_t>(n, 1), k, n, h_data); });
                return std::move(h);
            });
        },
        py::arg("q"), py::arg("x"), "Q^H X for Fortran-ordered Q (n x p) and X (n x k): the same bits for any thread count.");

    m.def(
        "krylov_combine",
        [](const py::handle& q_in, const py::handle& c_in, const py::handle& y_in, bool accumulate) -> py::object {
            return dispatch_solver_value(y_in, "y", [&](auto tag) -> py::object {
                using T = typename decltype(tag)::type;
                const auto q = fortran_matrix<T>(q_in, "q");
                const auto c = fortran_matrix<T>(c_in, "c");
                const std::int64_t n = q.shape(0), p = q.shape(1), k = c.shape(1);
                if (c.shape(0) != p) throw py::value_error("c: expected one row per column of q");
                T* y = column_data<T>(y_in, "y", n, k);
                without_gil([&] { krylov::block_combine(q.data(), std::max<std::int64_t>(n, 1), p, c.data(), k,
                                                        T(accumulate ? 1 : 0), y, std::max<std::int64_t>(n, 1), n); });
                return py::none();
            });
        },
        py::arg("q"), py::arg("c"), py::arg("y"), py::arg("accumulate"),
        "Y = Q C (Y += Q C if accumulate) in place, for Fortran-ordered Q (n x p), C (p x k), Y (n x k).");

    m.def(
        "arnoldi",
        [](const py::handle& basis, std::int64_t kk, std::int64_t steps, const py::handle& h, const py::handle& b,
           const py::handle& s, double beta, double tolerance, double breakdown, const py::object& a,
           const py::object& m) -> py::object {
            return dispatch_solver_value(basis, "basis", [&](auto tag) -> py::object {
                using T = typename decltype(tag)::type;
                return arnoldi_typed<T>(basis, kk, steps, h, b, s, beta, tolerance, breakdown, a, m);
            });
        },
        py::arg("basis"), py::arg("kk"), py::arg("steps"), py::arg("h"), py::arg("b"), py::arg("s"), py::arg("beta"),
        py::arg("tolerance"), py::arg("breakdown"), py::arg("a"), py::arg("m"),
        "Up to `steps` Arnoldi steps of (I - C C^H) A M from basis column kk (pynla/krylov/arnoldi.hpp):\n"
        "A M T = C B + V+ H with search directions T = [C, V] S; a and m as for deflated_cg.\n"
        "Returns (steps taken, products with A M, broke down, non-finite).");

    m.def(
        "deflated_cg",
        [](const py::tuple& workspace, const py::object& a, const py::object& m, const py::object& callback,
           double tolerance, std::int64_t max_iterations, std::int64_t done, bool keep) -> py::object {
            return dispatch_solver_value(workspace[0], "x", [&](auto tag) -> py::object {
                using T = typename decltype(tag)::type;
                return deflated_cg_typed<T>(workspace, a, m, callback, tolerance, max_iterations, done, keep);
            });
        },
        py::arg("workspace"), py::arg("a"), py::arg("m"), py::arg("callback"), py::arg("tolerance"),
        py::arg("max_iterations"), py::arg("done"), py::arg("keep"),
        "Deflated PCG from r (pynla/krylov/deflated_cg.hpp): workspace = (x, awr, w, gram, inverse_gram,\n"
        "kept, kept_products, kept_coefficients, stored, alphas, curvatures, rhos, projections, spare, q,\n"
        "z); a: a CSR tuple or a callable p -> A p; m: None, a diagonal (1-D array) or a callable;\n"
        "callback: None or x -> None (x: a copy of the iterate).\n"
        "Returns (status, iterations, products, preconditionings, stored, residual_norm).");
}

}  // namespace pynla::bindings
