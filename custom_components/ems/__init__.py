"""The ems energy management integration."""
