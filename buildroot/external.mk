# Every package of the Kiln tree.
include $(sort $(wildcard $(BR2_EXTERNAL_KILN_PATH)/package/*/*.mk))
