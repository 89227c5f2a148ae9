"""Orders: the shop's orders kept beside the conversations, synced from Shopify, WooCommerce,
a spreadsheet or looked up live in an ERP, and answered in the conversation once verified."""
