"""What the apps' admin pages share."""


class RecordInline:
    """An inline (mix in before ``TabularInline`` or ``StackedInline``) that shows records as they are: nothing
    is added, changed or deleted from the parent's page."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False
