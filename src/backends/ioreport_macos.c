/*
 * The macOS side of the apple backend: a subscription to IOReport's "Energy
 * Model" group, sampled into plain channel records (ioreport.h). IOReport is
 * a private system library, loaded at run time; CoreFoundation is linked.
 * Built on macOS only. It has not been compiled or run by this project's
 * tests (no Mac in CI): see docs/backends/apple.md.
 */
#include "ioreport.h"

#include <CoreFoundation/CoreFoundation.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct IOReportSubscription *IOReportSubscriptionRef;

struct jst_ior_session {
	void *lib;
	CFMutableDictionaryRef channels;
	IOReportSubscriptionRef sub;
	CFDictionaryRef (*CopyChannelsInGroup)(CFStringRef, CFStringRef, uint64_t, uint64_t,
	                                       uint64_t);
	IOReportSubscriptionRef (*CreateSubscription)(const void *, CFMutableDictionaryRef,
	                                              CFMutableDictionaryRef *, uint64_t,
	                                              CFTypeRef);
	CFDictionaryRef (*CreateSamples)(IOReportSubscriptionRef, CFMutableDictionaryRef,
	                                 const void *);
	int64_t (*SimpleGetIntegerValue)(CFDictionaryRef, int);
	CFStringRef (*ChannelGetGroup)(CFDictionaryRef);
	CFStringRef (*ChannelGetSubGroup)(CFDictionaryRef);
	CFStringRef (*ChannelGetChannelName)(CFDictionaryRef);
	CFStringRef (*ChannelGetUnitLabel)(CFDictionaryRef);
};

#define LOAD(f) (*(void **)(&s->f) = dlsym(s->lib, "IOReport" #f))

void jst_ior_session_close(struct jst_ior_session *s)
{
	if (!s)
		return;
	if (s->sub)
		CFRelease(s->sub);
	if (s->channels)
		CFRelease(s->channels);
	if (s->lib)
		dlclose(s->lib);
	free(s);
}

int jst_ior_session_open(struct jst_ior_session **out, char *reason, size_t len)
{
	struct jst_ior_session *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->lib = dlopen("/usr/lib/libIOReport.dylib", RTLD_NOW | RTLD_LOCAL);
	if (!s->lib) {
		snprintf(reason, len, "cannot load /usr/lib/libIOReport.dylib: %s", dlerror());
		free(s);
		return -ENOENT;
	}
	LOAD(CopyChannelsInGroup);
	LOAD(CreateSubscription);
	LOAD(CreateSamples);
	LOAD(SimpleGetIntegerValue);
	LOAD(ChannelGetGroup);
	LOAD(ChannelGetSubGroup);
	LOAD(ChannelGetChannelName);
	LOAD(ChannelGetUnitLabel);
	if (!s->CopyChannelsInGroup || !s->CreateSubscription || !s->CreateSamples ||
	    !s->SimpleGetIntegerValue || !s->ChannelGetChannelName || !s->ChannelGetUnitLabel) {
		snprintf(reason, len, "libIOReport.dylib lacks the functions joulestat needs");
		jst_ior_session_close(s);
		return -ENOSYS;
	}
	CFStringRef group = CFStringCreateWithCString(NULL, "Energy Model", kCFStringEncodingUTF8);
	CFDictionaryRef chans = s->CopyChannelsInGroup(group, NULL, 0, 0, 0);
	CFRelease(group);
	if (!chans) {
		snprintf(reason, len, "IOReport has no \"Energy Model\" group: not Apple Silicon");
		jst_ior_session_close(s);
		return -ENODEV;
	}
	s->channels = CFDictionaryCreateMutableCopy(NULL, CFDictionaryGetCount(chans), chans);
	CFRelease(chans);
	CFMutableDictionaryRef subbed = NULL;
	s->sub = s->channels ? s->CreateSubscription(NULL, s->channels, &subbed, 0, NULL) : NULL;
	if (!s->sub) {
		snprintf(reason, len, "cannot subscribe to IOReport's Energy Model channels");
		jst_ior_session_close(s);
		return -EIO;
	}
	*out = s;
	return 0;
}

static void cfstr(CFStringRef str, char *buf, size_t len)
{
	if (!str || !CFStringGetCString(str, buf, (CFIndex)len, kCFStringEncodingUTF8))
		buf[0] = 0;
}

int jst_ior_session_sample(struct jst_ior_session *s, struct jst_ior_channel *out, size_t max)
{
	CFDictionaryRef sample = s->CreateSamples(s->sub, s->channels, NULL);
	if (!sample)
		return -EIO;
	CFArrayRef arr = CFDictionaryGetValue(sample, CFSTR("IOReportChannels"));
	int n = 0;
	for (CFIndex i = 0; arr && i < CFArrayGetCount(arr) && (size_t)n < max; i++) {
		CFDictionaryRef item = CFArrayGetValueAtIndex(arr, i);
		struct jst_ior_channel *c = &out[n++];
		cfstr(s->ChannelGetGroup ? s->ChannelGetGroup(item) : NULL, c->group,
		      sizeof c->group);
		if (!c->group[0]) /* subscribed to one group only */
			snprintf(c->group, sizeof c->group, "Energy Model");
		cfstr(s->ChannelGetSubGroup ? s->ChannelGetSubGroup(item) : NULL, c->subgroup,
		      sizeof c->subgroup);
		cfstr(s->ChannelGetChannelName(item), c->name, sizeof c->name);
		cfstr(s->ChannelGetUnitLabel(item), c->unit, sizeof c->unit);
		c->value = s->SimpleGetIntegerValue(item, 0);
	}
	CFRelease(sample);
	return n;
}
