/*
 * Which NVML GPUs a selection names. The selection (jst_gpu_selection_resolve:
 * --gpus, else CUDA_VISIBLE_DEVICES) holds indices, GPU UUIDs or unique
 * prefixes of them, and MIG instances; here each becomes an NVML index, or a
 * reason naming the entry that matches no GPU.
 */
#include "backend.h"
#include "nvml_api.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int uuid_of(const struct jst_nvml_api *api, nvmlDevice_t dev, char *uuid, size_t len)
{
	return api->DeviceGetUUID(dev, uuid, (unsigned)len) == NVML_SUCCESS ? 0 : -EIO;
}

/* The index of the one GPU whose UUID starts with prefix (CUDA accepts unique
 * prefixes too). */
static int index_by_uuid(const struct jst_nvml_api *api, unsigned count, const char *prefix,
                         size_t plen, unsigned *out, char *reason, size_t len)
{
	int found = 0;
	for (unsigned i = 0; i < count; i++) {
		nvmlDevice_t dev;
		char uuid[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
		if (api->DeviceGetHandleByIndex(i, &dev) != NVML_SUCCESS ||
		    uuid_of(api, dev, uuid, sizeof uuid))
			continue;
		if (strncmp(uuid, prefix, plen) == 0) {
			*out = i;
			if (uuid[plen] == 0)
				return 0; /* exact */
			found++;
		}
	}
	if (found == 1)
		return 0;
	if (found)
		snprintf(reason, len, "GPU UUID %.*s matches %d GPUs: give more of it", (int)plen,
		         prefix, found);
	else
		snprintf(reason, len,
		         "no GPU has UUID %.*s: nvidia-smi -L lists this machine's GPUs", (int)plen,
		         prefix);
	return -ENODEV;
}

/* A MIG instance's parent GPU: energy is only measured per whole GPU. */
static int index_by_mig(const struct jst_nvml_api *api, unsigned count, const char *mig,
                        unsigned *out, char *reason, size_t len)
{
	const char *gpu = strstr(mig, "GPU-");
	if (gpu) { /* the old form, MIG-GPU-<uuid>/<gi>/<ci>, names its parent */
		size_t n = strcspn(gpu, "/");
		return index_by_uuid(api, count, gpu, n, out, reason, len);
	}
	nvmlDevice_t handle, parent;
	char uuid[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
	if (!api->DeviceGetHandleByUUID || !api->DeviceGetDeviceHandleFromMigDeviceHandle ||
	    api->DeviceGetHandleByUUID(mig, &handle) != NVML_SUCCESS ||
	    api->DeviceGetDeviceHandleFromMigDeviceHandle(handle, &parent) != NVML_SUCCESS ||
	    uuid_of(api, parent, uuid, sizeof uuid)) {
		snprintf(reason, len,
		         "cannot find the GPU of MIG instance %s: select the GPU by index or UUID "
		         "(--gpus)",
		         mig);
		return -ENODEV;
	}
	return index_by_uuid(api, count, uuid, strlen(uuid), out, reason, len);
}

int jst_nvml_select(const struct jst_nvml_api *api, unsigned count, const char *sel, int from_env,
                    unsigned *idx, size_t max, size_t *n, char *reason, size_t len)
{
	*n = 0;
	if (!sel) {
		for (unsigned i = 0; i < count && i < max; i++)
			idx[(*n)++] = i;
		return 0;
	}
	char tmp[1024];
	snprintf(tmp, sizeof tmp, "%s", sel);
	for (char *save = NULL, *tok = strtok_r(tmp, ", ", &save); tok;
	     tok = strtok_r(NULL, ", ", &save)) {
		unsigned i = 0;
		int rc = 0;
		if (isdigit((unsigned char)tok[0])) {
			char *end;
			unsigned long v = strtoul(tok, &end, 10);
			if (*end || v >= count) {
				if (count == 1)
					snprintf(reason, len,
					         "GPU %s not found: NVML sees one GPU, index 0",
					         tok);
				else
					snprintf(
					    reason, len,
					    "GPU %s not found: NVML sees %u GPUs, indices 0-%u",
					    tok, count, count - 1);
				rc = -ENODEV;
			}
			i = (unsigned)v;
		} else if (!strncmp(tok, "MIG-", 4)) {
			rc = index_by_mig(api, count, tok, &i, reason, len);
		} else {
			rc = index_by_uuid(api, count, tok, strlen(tok), &i, reason, len);
		}
		/* CUDA uses CUDA_VISIBLE_DEVICES up to its first entry that names no
		 * GPU ("0,7,1" on two GPUs is GPU 0): so do we, and measure what the
		 * program sees. Only when nothing before it matched is it an error. */
		if (rc == -ENODEV && from_env && *n > 0) {
			reason[0] = 0;
			return 0;
		}
		if (rc)
			return rc;
		int dup = 0;
		for (size_t k = 0; k < *n; k++)
			dup |= idx[k] == i;
		if (!dup && *n < max)
			idx[(*n)++] = i;
	}
	return 0;
}
