// Glue shared by the binding files: arrays in (checked only for what would be undefined
// behaviour: dtype, dimension, contiguity, length), owned buffers out without a copy, and the
// dispatch from numpy dtypes to the core's template parameters.
#pragma once

#include <pybind11/complex.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <complex>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <utility>

#include "pynla/common/bsr.hpp"
#include "pynla/common/buffer.hpp"
#include "pynla/common/csr.hpp"
#include "pynla/common/matrix_view.hpp"

namespace pynla::bindings {

namespace py = pybind11;

template <class T>
struct Tag {
    using type = T;
};

// The data pointer of a 1-D contiguous array of exactly T holding `length` elements.
template <class T>
const T* vector_data(const py::handle& object, const char* what, std::int64_t length) {
    if (!py::isinstance<py::array_t<T>>(object)) {
        throw py::type_error(std::string(what) + ": expected an array of " +
                             py::str(py::dtype::of<T>()).cast<std::string>());
    }
    const auto array = py::reinterpret_borrow<py::array>(object);
    if (array.ndim() != 1 || !(array.flags() & py::array::c_style)) {
        throw py::value_error(std::string(what) + ": expected a contiguous 1-D array");
    }
    if (array.shape(0) != length) {
        throw py::value_error(std::string(what) + ": expected length " + std::to_string(length) + ", got " +
                              std::to_string(array.shape(0)));
    }
    return static_cast<const T*>(array.data());
}

// The data pointer of a writeable 1-D contiguous array of exactly T holding `length` elements.
template <class T>
T* mutable_vector_data(const py::handle& object, const char* what, std::int64_t length) {
    const T* data = vector_data<T>(object, what, length);
    if (!py::reinterpret_borrow<py::array>(object).writeable()) {
        throw py::value_error(std::string(what) + ": expected a writeable array");
    }
    return const_cast<T*>(data);
}

// A CSR view of the Python tuple (indptr, indices, data, (n_rows, n_cols)[, ...]): fields past the
// shape (pynla's CsrInput has rows_sorted) are not the view's. The view borrows the arrays: the
// tuple must outlive it.
template <class I, class T>
CsrView<I, T> csr_view(const py::tuple& csr, const char* what) {
    if (csr.size() < 4) throw py::value_error(std::string(what) + ": expected (indptr, indices, data, shape)");
    const auto shape = csr[3].cast<std::pair<std::int64_t, std::int64_t>>();
    CsrView<I, T> view;
    view.n_rows = shape.first;
    view.n_cols = shape.second;
    if (view.n_rows < 0 || view.n_cols < 0) throw py::value_error(std::string(what) + ": negative shape");
    view.indptr = vector_data<I>(csr[0], what, view.n_rows + 1);
    const std::int64_t nnz = view.indptr[view.n_rows];
    view.indices = vector_data<I>(csr[1], what, nnz);
    view.data = vector_data<T>(csr[2], what, nnz);
    return view;
}

// A BSR view of the Python tuple (indptr, indices, data, (n_block_rows, n_block_cols),
// (R, C)), data flat (nnzb * R * C values). The view borrows the arrays: the tuple must outlive it.
template <class I, class T>
BsrView<I, T> bsr_view(const py::tuple& bsr, const char* what) {
    if (bsr.size() != 5) {
        throw py::value_error(std::string(what) + ": expected (indptr, indices, data, block grid, blocksize)");
    }
    const auto grid = bsr[3].cast<std::pair<std::int64_t, std::int64_t>>();
    const auto blocksize = bsr[4].cast<std::pair<std::int64_t, std::int64_t>>();
    if (grid.first < 0 || grid.second < 0 || blocksize.first < 1 || blocksize.second < 1) {
        throw py::value_error(std::string(what) + ": negative shape or empty blocks");
    }
    BsrView<I, T> view;
    view.n_block_rows = grid.first;
    view.n_block_cols = grid.second;
    view.block_rows = blocksize.first;
    view.block_cols = blocksize.second;
    view.indptr = vector_data<I>(bsr[0], what, view.n_block_rows + 1);
    const std::int64_t n_blocks = view.indptr[view.n_block_rows];
    view.indices = vector_data<I>(bsr[1], what, n_blocks);
    view.data = vector_data<T>(bsr[2], what, n_blocks * view.block_size());
    return view;
}

// The rows of a 2-D C-contiguous array of exactly T with n_rows rows: (data, columns).
template <class T>
std::pair<const T*, std::int64_t> matrix_rows(const py::handle& object, const char* what, std::int64_t n_rows) {
    if (!py::isinstance<py::array_t<T>>(object)) {
        throw py::type_error(std::string(what) + ": expected an array of " +
                             py::str(py::dtype::of<T>()).cast<std::string>());
    }
    const auto array = py::reinterpret_borrow<py::array>(object);
    if (array.ndim() != 2 || !(array.flags() & py::array::c_style) || array.shape(0) != n_rows) {
        throw py::value_error(std::string(what) + ": expected a C-contiguous 2-D array with " +
                              std::to_string(n_rows) + " rows");
    }
    return {static_cast<const T*>(array.data()), array.shape(1)};
}

// The data of a 2-D Fortran-ordered array of exactly T (column-major, as BLAS wants it).
template <class T>
py::array_t<T, py::array::f_style> fortran_matrix(const py::handle& object, const char* what) {
    if (!py::isinstance<py::array_t<T>>(object)) {
        throw py::type_error(std::string(what) + ": expected an array of " +
                             py::str(py::dtype::of<T>()).cast<std::string>());
    }
    const auto array = py::reinterpret_borrow<py::array>(object);
    if (array.ndim() != 2 || !(array.flags() & py::array::f_style)) {
        throw py::value_error(std::string(what) + ": expected a Fortran-ordered 2-D array");
    }
    return py::reinterpret_borrow<py::array_t<T, py::array::f_style>>(object);
}

// A view of a 2-D array of exactly T with any strides (whole elements).
template <class T>
MatrixView<T> matrix_view(const py::handle& object, const char* what) {
    if (!py::isinstance<py::array_t<T>>(object)) {
        throw py::type_error(std::string(what) + ": expected an array of " +
                             py::str(py::dtype::of<T>()).cast<std::string>());
    }
    const auto array = py::reinterpret_borrow<py::array>(object);
    if (array.ndim() != 2) throw py::value_error(std::string(what) + ": expected a 2-D array");
    const auto item = static_cast<py::ssize_t>(sizeof(T));
    if (array.strides(0) % item != 0 || array.strides(1) % item != 0) {
        throw py::value_error(std::string(what) + ": strides must be whole elements");
    }
    return {static_cast<const T*>(array.data()), array.shape(0), array.shape(1), array.strides(0) / item,
            array.strides(1) / item};
}

// Hands an owned buffer to numpy: the array's base is a capsule that frees the memory (into the
// block cache, if large).
template <class T>
py::array_t<T> to_numpy(Buffer<T>&& buffer) {
    const auto size = static_cast<py::ssize_t>(buffer.size());
    T* data = buffer.release();
    py::capsule owner(data, [](void* p) { free_buffer_memory(p); });
    return py::array_t<T>(size, data, owner);
}

// The arrays of an owned CSR result as numpy arrays, without a copy: (indptr, indices, data).
template <class I, class T>
py::tuple csr_to_python(Csr<I, T>&& c) {
    return py::make_tuple(to_numpy(std::move(c.indptr)), to_numpy(std::move(c.indices)), to_numpy(std::move(c.data)));
}

// Calls body(Tag<T>{}) for the dtype of `data`: float32, float64, complex64 or complex128.
template <class Body>
py::object dispatch_value(const py::handle& data, const char* what, Body&& body) {
    if (py::isinstance<py::array_t<float>>(data)) return body(Tag<float>{});
    if (py::isinstance<py::array_t<double>>(data)) return body(Tag<double>{});
    if (py::isinstance<py::array_t<std::complex<float>>>(data)) return body(Tag<std::complex<float>>{});
    if (py::isinstance<py::array_t<std::complex<double>>>(data)) return body(Tag<std::complex<double>>{});
    throw py::type_error(std::string(what) + ": expected float32, float64, complex64 or complex128 values");
}

// Calls body(Tag<I>{}, Tag<T>{}) for the index dtype of `indices` (int32, int64) and the value
// dtype of `data`.
template <class Body>
py::object dispatch_index_value(const py::handle& indices, const py::handle& data, Body&& body) {
    const auto with_index = [&](auto index) -> py::object {
        return dispatch_value(data, "data", [&](auto value) { return body(index, value); });
    };
    if (py::isinstance<py::array_t<std::int32_t>>(indices)) return with_index(Tag<std::int32_t>{});
    if (py::isinstance<py::array_t<std::int64_t>>(indices)) return with_index(Tag<std::int64_t>{});
    throw py::type_error("indices: expected int32 or int64 indices");
}

// Runs a kernel with the GIL released (it touches no Python object) and returns its result.
template <class Kernel>
auto without_gil(Kernel&& kernel) {
    py::gil_scoped_release no_gil;
    return kernel();
}

// Calls body(view) with the BSR view of the tuple `bsr` in its own index and value types.
template <class Body>
py::object with_bsr_view(const py::tuple& bsr, const char* what, Body&& body) {
    return dispatch_index_value(bsr[1], bsr[2], [&](auto index, auto value) -> py::object {
        using I = typename decltype(index)::type;
        using T = typename decltype(value)::type;
        return body(bsr_view<I, T>(bsr, what));
    });
}

// Calls body(view) with the CSR view of the tuple `csr` in its own index and value types.
template <class Body>
py::object with_csr_view(const py::tuple& csr, const char* what, Body&& body) {
    return dispatch_index_value(csr[1], csr[2], [&](auto index, auto value) -> py::object {
        using I = typename decltype(index)::type;
        using T = typename decltype(value)::type;
        return body(csr_view<I, T>(csr, what));
    });
}

}  // namespace pynla::bindings
