"""applications: restricted-data and remit applications, items, documents, history, reviewers;
order lines bought under an application (its reference and remit), free orders' receipt numbers,
licence grants naming the application and its conditions

Revision ID: a14c0de5e001
Revises: 3f9a2c7d1e04
Create Date: 2026-12-04 21:18:46.106464

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = 'a14c0de5e001'
down_revision = '3f9a2c7d1e04'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('application',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=32), nullable=False),
    sa.Column('reference', sa.String(length=20), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('wants_data', sa.Boolean(), nullable=False),
    sa.Column('wants_remit', sa.Boolean(), nullable=False),
    sa.Column('purpose', sa.Text(), nullable=False),
    sa.Column('agency', sa.String(length=200), nullable=False),
    sa.Column('applicant_category', sa.String(length=20), nullable=True),
    sa.Column('intended_use', sa.Text(), nullable=False),
    sa.Column('area_state', sa.String(length=60), nullable=False),
    sa.Column('area_district', sa.String(length=80), nullable=False),
    sa.Column('bbox', sa.String(length=120), nullable=True),
    sa.Column('period_from', sa.Date(), nullable=True),
    sa.Column('period_to', sa.Date(), nullable=True),
    sa.Column('declaration_accepted_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('submitted_at', sa.DateTime(), nullable=True),
    sa.Column('clock_days_used', sa.Integer(), nullable=False),
    sa.Column('clock_resumed_on', sa.Date(), nullable=True),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('info_request', sa.Text(), nullable=True),
    sa.Column('reminded_on', sa.Date(), nullable=True),
    sa.Column('recommended_by', sa.Integer(), nullable=True),
    sa.Column('recommended_at', sa.DateTime(), nullable=True),
    sa.Column('recommendation', sa.String(length=10), nullable=True),
    sa.Column('recommendation_notes', sa.Text(), nullable=True),
    sa.Column('decided_by', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('decision_reason', sa.Text(), nullable=True),
    sa.Column('valid_until', sa.DateTime(), nullable=True),
    sa.Column('conditions', sa.Text(), nullable=True),
    sa.Column('remit_kind', sa.String(length=10), nullable=True),
    sa.Column('remit_value', sa.Integer(), nullable=True),
    sa.Column('documents_purged_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint("remit_kind <> 'percent' OR remit_value <= 100", name=op.f('ck_application_remit_percent_max')),
    sa.CheckConstraint("remit_kind IS NULL OR remit_kind IN ('percent', 'fixed')", name=op.f('ck_application_remit_kind')),
    sa.CheckConstraint("state IN ('draft', 'submitted', 'info_requested', 'resubmitted', 'approved', 'rejected', 'withdrawn', 'expired', 'used')", name=op.f('ck_application_state')),
    sa.CheckConstraint('clock_days_used >= 0', name=op.f('ck_application_clock_days_nonnegative')),
    sa.CheckConstraint('remit_value IS NULL OR remit_value >= 0', name=op.f('ck_application_remit_value_nonnegative')),
    sa.CheckConstraint('wants_data OR wants_remit', name=op.f('ck_application_wants_something')),
    sa.ForeignKeyConstraint(['decided_by'], ['user_account.id'], name=op.f('fk_application_decided_by_user_account')),
    sa.ForeignKeyConstraint(['recommended_by'], ['user_account.id'], name=op.f('fk_application_recommended_by_user_account')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_application_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_application')),
    sa.UniqueConstraint('reference', name=op.f('uq_application_reference')),
    sa.UniqueConstraint('token', name=op.f('uq_application_token'))
    )
    with op.batch_alter_table('application', schema=None) as batch_op:
        batch_op.create_index('ix_application_state_due', ['state', 'due_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_application_user_id'), ['user_id'], unique=False)

    op.create_table('application_reviewer',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('granted_by', sa.Integer(), nullable=True),
    sa.Column('granted_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['granted_by'], ['user_account.id'], name=op.f('fk_application_reviewer_granted_by_user_account')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_application_reviewer_user_id_user_account')),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_application_reviewer'))
    )
    op.create_table('application_document',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=32), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('content_type', sa.String(length=40), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('storage_key', sa.String(length=200), nullable=True),
    sa.Column('uploaded_by', sa.Integer(), nullable=True),
    sa.Column('uploaded_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['application.id'], name=op.f('fk_application_document_application_id_application')),
    sa.ForeignKeyConstraint(['uploaded_by'], ['user_account.id'], name=op.f('fk_application_document_uploaded_by_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_application_document')),
    sa.UniqueConstraint('token', name=op.f('uq_application_document_token'))
    )
    with op.batch_alter_table('application_document', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_application_document_application_id'), ['application_id'], unique=False)

    op.create_table('application_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('from_state', sa.String(length=16), nullable=True),
    sa.Column('to_state', sa.String(length=16), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['user_account.id'], name=op.f('fk_application_event_actor_id_user_account')),
    sa.ForeignKeyConstraint(['application_id'], ['application.id'], name=op.f('fk_application_event_application_id_application')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_application_event'))
    )
    with op.batch_alter_table('application_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_application_event_application_id'), ['application_id'], unique=False)

    op.create_table('application_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=True),
    sa.Column('copies', sa.Integer(), nullable=False),
    sa.Column('copies_used', sa.Integer(), nullable=False),
    sa.Column('approved', sa.Boolean(), nullable=False),
    sa.CheckConstraint('copies >= 1', name=op.f('ck_application_item_copies_positive')),
    sa.CheckConstraint('copies_used >= 0 AND copies_used <= copies', name=op.f('ck_application_item_copies_used_within')),
    sa.ForeignKeyConstraint(['application_id'], ['application.id'], name=op.f('fk_application_item_application_id_application')),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], name=op.f('fk_application_item_product_id_product')),
    sa.ForeignKeyConstraint(['version_id'], ['product_version.id'], name=op.f('fk_application_item_version_id_product_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_application_item')),
    sa.UniqueConstraint('application_id', 'product_id', name='uq_application_item_product')
    )
    with op.batch_alter_table('application_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_application_item_application_id'), ['application_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_application_item_product_id'), ['product_id'], unique=False)

    with op.batch_alter_table('customer_order', schema=None) as batch_op:
        batch_op.add_column(sa.Column('receipt_no', sa.String(length=32), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_customer_order_receipt_no'), ['receipt_no'])

    with op.batch_alter_table('licence_grant', schema=None) as batch_op:
        batch_op.add_column(sa.Column('application_ref', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('conditions', sa.Text(), nullable=True))

    with op.batch_alter_table('order_line', schema=None) as batch_op:
        batch_op.add_column(sa.Column('application_ref', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('remit_sen', sa.Integer(), server_default='0', nullable=False))
        batch_op.create_check_constraint(op.f('ck_order_line_remit_within_line'),
                                         'remit_sen >= 0 AND remit_sen <= line_total_sen')


def downgrade():
    with op.batch_alter_table('order_line', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_order_line_remit_within_line'), type_='check')
        batch_op.drop_column('remit_sen')
        batch_op.drop_column('application_ref')

    with op.batch_alter_table('licence_grant', schema=None) as batch_op:
        batch_op.drop_column('conditions')
        batch_op.drop_column('application_ref')

    with op.batch_alter_table('customer_order', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_customer_order_receipt_no'), type_='unique')
        batch_op.drop_column('receipt_no')

    with op.batch_alter_table('application_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_application_item_product_id'))
        batch_op.drop_index(batch_op.f('ix_application_item_application_id'))

    op.drop_table('application_item')
    with op.batch_alter_table('application_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_application_event_application_id'))

    op.drop_table('application_event')
    with op.batch_alter_table('application_document', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_application_document_application_id'))

    op.drop_table('application_document')
    op.drop_table('application_reviewer')
    with op.batch_alter_table('application', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_application_user_id'))
        batch_op.drop_index('ix_application_state_due')

    op.drop_table('application')
