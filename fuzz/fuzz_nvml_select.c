/* Fuzz target: mapping a GPU selection to NVML indices (jst_nvml_select)
 * against a fake NVML of up to 8 GPUs whose UUIDs come from the input. Input:
 * a byte with the GPU count and flags, 8 UUID tails of 4 bytes, then the
 * selection. Every index returned must exist and appear once. */
#include "backend.h"
#include "fuzz.h"
#include "nvml_api.h"

#define FAKE_GPUS 8u
#define HEADER (1 + 4 * (size_t)FAKE_GPUS) /* count and flags, then UUID tails */

struct nvmlDevice_st {
	unsigned index;
};

static struct {
	unsigned count;
	int mig_parent; /* the MIG look-ups exist and find GPU 0 */
	char uuid[FAKE_GPUS][NVML_DEVICE_UUID_V2_BUFFER_SIZE];
	struct nvmlDevice_st dev[FAKE_GPUS];
} fake;

static nvmlReturn_t handle_by_index(unsigned int i, nvmlDevice_t *dev)
{
	if (i >= fake.count)
		return NVML_ERROR_INVALID_ARGUMENT;
	*dev = &fake.dev[i];
	return NVML_SUCCESS;
}

static nvmlReturn_t get_uuid(nvmlDevice_t dev, char *uuid, unsigned int len)
{
	if (!dev || dev->index >= fake.count)
		return NVML_ERROR_INVALID_ARGUMENT;
	snprintf(uuid, len, "%s", fake.uuid[dev->index]);
	return NVML_SUCCESS;
}

static nvmlReturn_t handle_by_uuid(const char *uuid, nvmlDevice_t *dev)
{
	if (strncmp(uuid, "MIG-", 4) != 0 || fake.count == 0)
		return NVML_ERROR_NOT_FOUND;
	*dev = &fake.dev[0];
	return NVML_SUCCESS;
}

static nvmlReturn_t parent_of(nvmlDevice_t mig, nvmlDevice_t *dev)
{
	*dev = mig;
	return NVML_SUCCESS;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < HEADER)
		return 0;
	fake.count = data[0] % (FAKE_GPUS + 1);
	fake.mig_parent = data[0] & 0x10;
	int from_env = (data[0] & 0x20) != 0;
	static const char hex[] = "0123456789abcdef";
	for (unsigned k = 0; k < FAKE_GPUS; k++) {
		const uint8_t *t = data + 1 + 4 * (size_t)k;
		/* Tails of a few hex digits: prefixes shared by several GPUs are likely. */
		snprintf(fake.uuid[k], sizeof fake.uuid[k], "GPU-%c%c%c%c-0000", hex[t[0] & 3],
		         hex[t[1] & 15], hex[t[2] & 15], hex[t[3] & 15]);
		fake.dev[k].index = k;
	}
	struct jst_nvml_api api = {
	    .DeviceGetHandleByIndex = handle_by_index,
	    .DeviceGetUUID = get_uuid,
	    .DeviceGetHandleByUUID = fake.mig_parent ? handle_by_uuid : NULL,
	    .DeviceGetDeviceHandleFromMigDeviceHandle = fake.mig_parent ? parent_of : NULL,
	};
	char *sel = fuzz_cstring(data + HEADER, size - HEADER);
	if (!sel)
		return 0;
	unsigned idx[FAKE_GPUS];
	size_t n = 0;
	char reason[256] = "";
	int rc = jst_nvml_select(&api, fake.count, sel, from_env, idx, FAKE_GPUS, &n, reason,
	                         sizeof reason);
	if (n > FAKE_GPUS || strlen(reason) >= sizeof reason)
		abort();
	if (rc == 0) {
		for (size_t i = 0; i < n; i++) {
			if (idx[i] >= fake.count)
				abort(); /* an index NVML does not have */
			for (size_t j = 0; j < i; j++)
				if (idx[i] == idx[j])
					abort(); /* the same GPU twice */
		}
	}
	free(sel);
	return 0;
}
