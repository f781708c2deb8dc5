//go:build opencl

package gpu

/*
#cgo LDFLAGS: -lOpenCL
#define CL_TARGET_OPENCL_VERSION 120
#include <stdlib.h>
#include <string.h>
#include <CL/cl.h>

// kiln_devices fills ids (up to cap) with every device of every platform,
// in platform order, and returns how many there are in all (or a negative
// OpenCL error).
static cl_int kiln_devices(cl_device_id *ids, cl_uint cap, cl_uint *total) {
	cl_platform_id plats[16];
	cl_uint np = 0;
	cl_int err = clGetPlatformIDs(16, plats, &np);
	if (err != CL_SUCCESS) return err;
	if (np > 16) np = 16;
	cl_uint n = 0;
	for (cl_uint p = 0; p < np; p++) {
		cl_uint nd = 0;
		err = clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 0, NULL, &nd);
		if (err == CL_DEVICE_NOT_FOUND || nd == 0) continue;
		if (err != CL_SUCCESS) return err;
		cl_device_id tmp[64];
		if (nd > 64) nd = 64;
		err = clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, nd, tmp, NULL);
		if (err != CL_SUCCESS) return err;
		for (cl_uint d = 0; d < nd; d++, n++)
			if (n < cap) ids[n] = tmp[d];
	}
	*total = n;
	return CL_SUCCESS;
}

typedef struct {
	cl_context ctx;
	cl_command_queue q;
	cl_program prog;
	cl_kernel k;
	cl_mem out, count;
	cl_uint capacity;
} kiln_dev;

static void kiln_close(kiln_dev *d) {
	if (d->out) clReleaseMemObject(d->out);
	if (d->count) clReleaseMemObject(d->count);
	if (d->k) clReleaseKernel(d->k);
	if (d->prog) clReleaseProgram(d->prog);
	if (d->q) clReleaseCommandQueue(d->q);
	if (d->ctx) clReleaseContext(d->ctx);
	memset(d, 0, sizeof *d);
}

// kiln_open builds src for dev. On a build failure the compiler's log goes
// to logbuf. It returns an OpenCL error code and, in *stage, which step
// failed.
static cl_int kiln_open(kiln_dev *d, cl_device_id dev, const char *src, cl_uint capacity,
		char *logbuf, size_t logcap, int *stage) {
	cl_int err;
	memset(d, 0, sizeof *d);
	*stage = 1;
	d->ctx = clCreateContext(NULL, 1, &dev, NULL, NULL, &err);
	if (err != CL_SUCCESS) return err;
	*stage = 2;
	d->q = clCreateCommandQueue(d->ctx, dev, 0, &err);
	if (err != CL_SUCCESS) return err;
	*stage = 3;
	d->prog = clCreateProgramWithSource(d->ctx, 1, &src, NULL, &err);
	if (err != CL_SUCCESS) return err;
	*stage = 4;
	err = clBuildProgram(d->prog, 1, &dev, "-cl-std=CL1.2", NULL, NULL);
	if (err != CL_SUCCESS) {
		size_t n = 0;
		logbuf[0] = 0;
		clGetProgramBuildInfo(d->prog, dev, CL_PROGRAM_BUILD_LOG, logcap - 1, logbuf, &n);
		logbuf[logcap - 1] = 0;
		return err;
	}
	*stage = 5;
	d->k = clCreateKernel(d->prog, "scan", &err);
	if (err != CL_SUCCESS) return err;
	*stage = 6;
	d->capacity = capacity;
	d->out = clCreateBuffer(d->ctx, CL_MEM_WRITE_ONLY, sizeof(cl_uint) * capacity, NULL, &err);
	if (err != CL_SUCCESS) return err;
	d->count = clCreateBuffer(d->ctx, CL_MEM_READ_WRITE, sizeof(cl_uint), NULL, &err);
	if (err != CL_SUCCESS) return err;
	*stage = 7;
	err = clSetKernelArg(d->k, 14, sizeof(cl_mem), &d->out);
	if (err == CL_SUCCESS) err = clSetKernelArg(d->k, 15, sizeof(cl_mem), &d->count);
	if (err == CL_SUCCESS) err = clSetKernelArg(d->k, 16, sizeof(cl_uint), &d->capacity);
	return err;
}

// kiln_scan runs one launch: args holds the 14 scalar arguments (midstate,
// tail, base, iters, limit). It blocks until the nonces found are in out
// and their count (which may exceed the capacity) in *found.
static cl_int kiln_scan(kiln_dev *d, const cl_uint *args, size_t global, size_t local,
		cl_uint *out, cl_uint *found) {
	cl_int err;
	for (cl_uint i = 0; i < 14; i++) {
		err = clSetKernelArg(d->k, i, sizeof(cl_uint), &args[i]);
		if (err != CL_SUCCESS) return err;
	}
	cl_uint zero = 0;
	err = clEnqueueWriteBuffer(d->q, d->count, CL_FALSE, 0, sizeof zero, &zero, 0, NULL, NULL);
	if (err != CL_SUCCESS) return err;
	err = clEnqueueNDRangeKernel(d->q, d->k, 1, NULL, &global, &local, 0, NULL, NULL);
	if (err != CL_SUCCESS) return err;
	err = clEnqueueReadBuffer(d->q, d->count, CL_TRUE, 0, sizeof(cl_uint), found, 0, NULL, NULL);
	if (err != CL_SUCCESS) return err;
	cl_uint n = *found < d->capacity ? *found : d->capacity;
	if (n == 0) return CL_SUCCESS;
	return clEnqueueReadBuffer(d->q, d->out, CL_TRUE, 0, sizeof(cl_uint) * n, out, 0, NULL, NULL);
}

static cl_int kiln_info_string(cl_device_id dev, cl_device_info what, char *buf, size_t cap) {
	buf[0] = 0;
	cl_int err = clGetDeviceInfo(dev, what, cap - 1, buf, NULL);
	buf[cap - 1] = 0;
	return err;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"strings"
	"unsafe"
)

// maxDevices bounds device enumeration across all platforms.
const maxDevices = 64

// clError is an OpenCL status code.
type clError int32

func (e clError) Error() string {
	if name, ok := clErrorNames[int32(e)]; ok {
		return fmt.Sprintf("OpenCL error %d (%s)", int32(e), name)
	}
	return fmt.Sprintf("OpenCL error %d", int32(e))
}

var clErrorNames = map[int32]string{
	-1: "CL_DEVICE_NOT_FOUND", -2: "CL_DEVICE_NOT_AVAILABLE", -4: "CL_MEM_OBJECT_ALLOCATION_FAILURE",
	-5: "CL_OUT_OF_RESOURCES", -6: "CL_OUT_OF_HOST_MEMORY", -11: "CL_BUILD_PROGRAM_FAILURE",
	-30: "CL_INVALID_VALUE", -33: "CL_INVALID_DEVICE", -36: "CL_INVALID_COMMAND_QUEUE",
	-45: "CL_INVALID_PROGRAM_EXECUTABLE", -46: "CL_INVALID_KERNEL_NAME", -48: "CL_INVALID_KERNEL",
	-52: "CL_INVALID_KERNEL_ARGS", -54: "CL_INVALID_WORK_GROUP_SIZE", -1001: "CL_PLATFORM_NOT_FOUND_KHR",
}

// deviceIDs lists every OpenCL device of every platform.
func deviceIDs() ([]C.cl_device_id, error) {
	ids := make([]C.cl_device_id, maxDevices)
	var total C.cl_uint
	if err := C.kiln_devices(&ids[0], maxDevices, &total); err != C.CL_SUCCESS {
		if err == -1001 { // no ICD installed
			return nil, nil
		}
		return nil, fmt.Errorf("gpu: list devices: %w", clError(err))
	}
	return ids[:min(int(total), maxDevices)], nil
}

func infoString(id C.cl_device_id, what C.cl_device_info) string {
	buf := make([]byte, 256)
	C.kiln_info_string(id, what, (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))
	return strings.TrimSpace(C.GoString((*C.char)(unsafe.Pointer(&buf[0]))))
}

func infoUint(id C.cl_device_id, what C.cl_device_info) uint64 {
	var v C.cl_uint
	C.clGetDeviceInfo(id, what, C.size_t(unsafe.Sizeof(v)), unsafe.Pointer(&v), nil)
	return uint64(v)
}

func infoSize(id C.cl_device_id, what C.cl_device_info) uint64 {
	var v C.size_t
	C.clGetDeviceInfo(id, what, C.size_t(unsafe.Sizeof(v)), unsafe.Pointer(&v), nil)
	return uint64(v)
}

func describe(index int, id C.cl_device_id) Device {
	return Device{
		Index:        index,
		Name:         infoString(id, C.CL_DEVICE_NAME),
		Vendor:       infoString(id, C.CL_DEVICE_VENDOR),
		Version:      infoString(id, C.CL_DEVICE_VERSION),
		ComputeUnits: int(infoUint(id, C.CL_DEVICE_MAX_COMPUTE_UNITS)),
		MaxWorkGroup: int(infoSize(id, C.CL_DEVICE_MAX_WORK_GROUP_SIZE)),
		ClockMHz:     int(infoUint(id, C.CL_DEVICE_MAX_CLOCK_FREQUENCY)),
		deviceHandle: id,
	}
}

// session is one device with the kernel built and its buffers allocated.
// It is used by one goroutine at a time.
type session struct {
	d   C.kiln_dev
	out []uint32
}

// open builds the kernel on a device.
func open(dev Device, capacity int) (*session, error) {
	src := C.CString(kernelSource)
	defer C.free(unsafe.Pointer(src))
	logbuf := make([]byte, 8192)
	s := &session{out: make([]uint32, capacity)}
	var stage C.int
	err := C.kiln_open(&s.d, dev.deviceHandle, src, C.cl_uint(capacity),
		(*C.char)(unsafe.Pointer(&logbuf[0])), C.size_t(len(logbuf)), &stage)
	if err != C.CL_SUCCESS {
		C.kiln_close(&s.d)
		steps := []string{"", "create context", "create queue", "load program", "build program",
			"create kernel", "allocate buffers", "set arguments"}
		msg := fmt.Errorf("gpu: %s on %s: %w", steps[stage], dev.Name, clError(err))
		if blog := strings.TrimSpace(C.GoString((*C.char)(unsafe.Pointer(&logbuf[0])))); stage == 4 && blog != "" {
			msg = fmt.Errorf("%w\n%s", msg, blog)
		}
		return nil, msg
	}
	return s, nil
}

// launch is the kernel's scalar arguments for one launch.
type launch struct {
	mid         [8]uint32
	tail        [3]uint32
	base, iters uint32
	limit       uint32
	global      int
	local       int
}

// scan runs one launch and returns the nonces found (a slice of the
// session's buffer, valid until the next scan) and how many the kernel
// counted, which exceeds len(nonces) when the buffer overflowed.
func (s *session) scan(l launch) ([]uint32, int, error) {
	var args [14]C.cl_uint
	for i, v := range l.mid {
		args[i] = C.cl_uint(v)
	}
	args[8], args[9], args[10] = C.cl_uint(l.tail[0]), C.cl_uint(l.tail[1]), C.cl_uint(l.tail[2])
	args[11], args[12], args[13] = C.cl_uint(l.base), C.cl_uint(l.iters), C.cl_uint(l.limit)
	var found C.cl_uint
	err := C.kiln_scan(&s.d, &args[0], C.size_t(l.global), C.size_t(l.local),
		(*C.cl_uint)(unsafe.Pointer(&s.out[0])), &found)
	if err != C.CL_SUCCESS {
		return nil, 0, fmt.Errorf("gpu: launch: %w", clError(err))
	}
	n := min(int(found), len(s.out))
	return s.out[:n], int(found), nil
}

// close releases the device objects; a closed session must not be used.
func (s *session) close() { C.kiln_close(&s.d) }

var errNoDevice = errors.New("gpu: no OpenCL device found (is an OpenCL driver, e.g. pocl-opencl-icd, installed?)")

// deviceID is an OpenCL device handle.
type deviceID = C.cl_device_id
